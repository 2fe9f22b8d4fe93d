"""English: the coach's words (the project's own) and the command phrases."""

from __future__ import annotations

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number(n: int) -> str:
    """Number words for 0..99; digits beyond (the TTS reads them)."""
    if 0 <= n < 20:
        return _ONES[n]
    if 20 <= n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else "-" + _ONES[ones])
    return str(n)


_VARIATIONS = {
    "dead-bug": ("dead bugs", "dead bugs"),
    "bent-knee": ("bent-knee raises", "bent knees"),
    "single-leg": ("single-leg raises", "single leg"),
    "straight-leg": ("straight-leg raises", "straight legs"),
    "hip-lift": ("leg raises with a hip lift", "hip lift"),
    "flutter-kick": ("flutter kicks", "flutter kicks"),
    "hanging-knee": ("hanging knee raises", "hanging knees"),
    "hanging-straight": ("hanging straight-leg raises", "hanging straight"),
}


def days(n: int) -> str:
    return f"{number(n)} days"


def variation_name(slug: str, short: bool = False) -> str:
    return _VARIATIONS[slug][1 if short else 0]


def stop_name(deg: int, short: bool = False) -> str:
    if deg <= 5:
        return "hover" if short else "a hover"
    return number(deg) if short else f"{number(deg)} degrees"


#: The pyttsx3 voice for this language when the user chose none
#: (the speech driver's own default voice).
PYTTSX3_VOICE: str | None = None


#: Everything the coach says. Fields: n, total, sets, reps, seconds (number words);
#: variation, stop (long names); var, at (short names, for replies mid-set).
#: Replies said during a set must be short (about a second): they have to fit
#: between two counts.
MESSAGES: dict[str, str] = {
    # First use and setup
    "disclaimer": "One thing first: I am a training aid, not medical advice. "
    "If anything hurts beyond normal effort, say ouch and I will stop.",
    "welcome": "Leg raises, {sets} by {reps}.",
    "welcome_back": "Welcome back. We carry on from last time.",
    "level": "{variation}, down to {stop}.",
    "setup_surface": "Lie on a mat on a hard floor, not a bed.",
    "setup_arms": "Arms by your sides, palms down. Hands under your hips is fine if you need it.",
    "setup_legs": "Legs long and together. A soft bend in the knees is fine.",
    "setup_press": "Press your lower back into the floor. Tip the pelvis back a little, ribs down.",
    "setup_note": "Imagine a note under your lower back that nobody may pull out.",
    "setup_head": "Head stays on the mat. Don't look at your feet.",
    "setup_breath": "Breathe out and pull your belly button in before each lift.",
    "setup_tempo": "On each number, lift. Hold at the top. Lower slowly while I count down, "
    "then hover. Your feet never rest on the floor.",
    "setup_first": "Keep the first rep small. If it feels steady, go all the way up.",
    "setup_short": "Back flat on the mat, ribs down, head down.",
    # Variation how-to, said when a variation is first used in a session
    "howto_dead-bug": "Knees bent over the hips. Lower one heel at a time.",
    "howto_bent-knee": "Keep the knees bent at ninety degrees the whole time.",
    "howto_single-leg": "One leg lifts, the other hovers. Swap every rep.",
    "howto_straight-leg": "Legs straight, lift to vertical.",
    "howto_hip-lift": "At the top, curl your hips off the floor. Lower the hips first, then the legs.",
    "howto_flutter-kick": "Small quick kicks, legs near the floor, back pressed down.",
    "howto_hanging-knee": "Hang from the bar. Knees to chest, no swinging.",
    "howto_hanging-straight": "Hang from the bar. Straight legs to hip height, no swinging.",
    # Progress and frequency
    "since_days": "Your last session was {days} ago.",
    "since_long": "It has been a while since your last session. We start gently.",
    "recover": "You trained very recently. Your core needs a day to recover; "
    "two or three sessions a week is plenty. Keep it light today.",
    "ease_pain": "Last time something hurt.",
    "ease_back": "Last time your back lifted in two sets in a row.",
    "offer_earned": "Clean reps with a slow lower. You have earned a step up.",
    "offer_level": "How about {variation}, down to {stop}? Say yes or no.",
    "ack_yes": "Okay, changed.",
    "ack_no": "Okay, we stay here.",
    "ack_no_question": "There is nothing to answer.",
    # Sets and rest
    "set_intro": "Set {n} of {total}.",
    "get_ready": "Get ready.",
    "set_done": "Set done: {n} perfect.",
    "rest": "Rest for {seconds} seconds.",
    "rest_left": "{seconds} seconds left.",
    # Beats (counts)
    "beat_lift": "{n}.",
    "beat_lift_left": "{n}, left.",
    "beat_lift_right": "{n}, right.",
    "beat_hold": "Hold.",
    "beat_lower": "Down, {n}.",
    "beat_count": "{n}.",
    "beat_hover": "Hover.",
    # Short mid-set reminders
    "rem_back": "Back flat.",
    "rem_breathe": "Breathe out up.",
    "rem_slow": "Lower slowly.",
    "rem_feet": "Feet off the floor.",
    "rem_neck": "Head down.",
    "rem_navel": "Belly button in.",
    "rem_top": "All the way up.",
    "rem_swing": "No swinging.",
    # Replies
    "ack_easier": "Easier: {at}.",
    "ack_easier_variation": "Easier: {var}.",
    "ack_easiest": "Already the easiest.",
    "ack_harder": "Harder: {at}.",
    "ack_harder_variation": "Harder: {var}.",
    "ack_hardest": "Already the hardest.",
    "ack_back": "Not counted.",
    "ack_stop_at": "Stop at {at}.",
    "ack_done": "Set over.",
    "ack_no_set": "No set running.",
    "ack_stop": "Stopping.",
    "ack_pause": "Paused. Say go when you are ready.",
    "ack_resume": "Here we go.",
    "ack_running": "Already going.",
    "ack_skip": "Skipping.",
    "ack_no_skip": "Nothing to skip.",
    "ack_slower": "Slower: {seconds}.",
    "ack_faster": "Faster: {seconds}.",
    "ack_slowest": "Already the slowest.",
    "ack_fastest": "Already the fastest.",
    "ack_nothing_to_repeat": "Nothing to repeat.",
    "how_many": "{n} this set.",
    "how_many_total": "{n} today.",
    "help": "You can say: easier, harder, slower, faster, pause, go, done, skip, repeat, "
    "how many, or stop. Say ouch if it hurts.",
    "help_short": "Say easier, harder, or done.",
    "mic_lost": "I lost the microphone. I keep counting.",
    "mic_back": "Microphone back.",
    "unknown": "Didn't catch that.",
    # Safety
    "pain": "Stop now. Lower your legs and rest. If the pain stays, see a professional.",
    "pain_resume_hint": "Say go only if you feel fine.",
    "pain_resume": "Gently then. If it hurts again, we stop for today.",
    # End
    "summary": "Workout over: {n} perfect reps.",
    "summary_sets": "Sets: {n}.",
    "summary_tension": "Time under tension: {seconds} seconds.",
    "summary_kcal": "About {n} calories.",
    "goodbye": "Good work. Give your core a day of rest.",
}


#: Intent -> phrasings. The first phrasing is canonical. Lower case, no punctuation
#: except apostrophes; this table is also the recognizers' grammar.
PHRASES: dict[str, tuple[str, ...]] = {
    "pain": ("ouch", "pain", "it hurts", "my back hurts", "that hurts"),
    "stop": ("stop", "quit", "end workout", "stop workout"),
    "pause": ("pause", "wait", "hold on"),
    "done": ("done", "i'm done", "set done", "finished"),
    "resume": ("go", "ready", "continue", "resume", "let's go"),
    "back_lifted": (
        "my back is lifting",
        "back's up",
        "my back is up",
        "back is lifting",
        "my back lifted",
    ),
    "easier": ("easier", "make it easier", "too hard"),
    "harder": ("harder", "make it harder", "too easy"),
    "slower": ("slower", "slow down"),
    "faster": ("faster", "speed up"),
    "skip": ("skip", "next"),
    "repeat": ("repeat", "say again", "repeat that"),
    "how_many": ("how many", "how many reps"),
    "help": ("help", "what can i say"),
    "yes": ("yes", "yes please", "yeah"),
    "no": ("no", "no thanks", "not now"),
}

#: Words that make any typed or heard text a pain report (safety first).
PAIN_WORDS: tuple[str, ...] = ("ouch", "pain", "hurt", "hurts", "ow", "painful")
