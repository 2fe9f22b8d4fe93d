"""PocketSphinx backend (5.x API): English model from inside the wheel, a finite-state grammar.

The grammar (an FSG built in code) is the phrase table plus a garbage path that is a loop over
the model's phones, each phone a one-phone pseudo-word:

    start --(1 - g)/N--> phrase_1 ... phrase_N --> end
    start --g/2--> [phone loop: each phone with probability p, exit 1 - p] --> end
    start --g/2--> [talk loop: each everyday word with probability w] --> end

The paths compete in the same search, so choosing a command IS a likelihood-ratio test of
"this phrase" against "any sequence of English sounds" (the phone loop is the unconstrained
background model), with the garbage prior ``g`` and the per-phone probability ``p`` as the
threshold. A word garbage loop alone (everyday words) cannot cover the sounds of talk it does
not list; the phone loop covers every sound at a fraction of the cost (39 one-phone words).

Talk made of everyday words is a third path: a loop over the commonest words of spoken English
that are in no command and have at least three phones (``everyday_en``), each word costing
``talk_word_prob``. The phone loop has to pay for every sound of "not bad" and loses it to
"not now"; the word loop explains it as the words it is. Talk made of command words is left to
the phone loop (a keyword spotter's filler vocabulary leaves out its keywords). The path takes
some commands for talk too, so an utterance that came out as garbage gets a last look without
it, which believes only a pain report (``_pain_without_talk``). Chosen on the TUNE voices
(words of 1-2 phones, "a", "the", "in", matched noise bursts and took commands in white
noise):

    talk path                 clean acc  false/120   white 10 dB acc  false/120
    none                        0.869       26            0.320          15
    300 words, all             0.856        6            0.242           5
    300 words, >= 3 phones      0.863        7            0.301           9   <- chosen
    300 words, >= 4 phones      0.869       10            0.327          14

HELD-OUT voices (six, Piper's two takes among them), none -> chosen (with the pain look):
clean accuracy 0.840 -> 0.820, wrong commands 12 -> 6, false commands in 240 talk utterances
39 -> 19, pain phrases heard 23 -> 23 of 30; white noise 10 dB 0.369 -> 0.330, false 29 -> 18;
babble 20 dB 0.637 -> 0.539, false 59 -> 25, pain 12 -> 13; music 20 dB 0.742 -> 0.683, false
65 -> 27. A stricter phone loop alone gives up more for less (``phone_prob`` 3e-3: clean
0.804 with 26 false and pain 20 of 30; babble 0.529 with 30 false and pain 8). Cost: CPU per
audio second 24 -> 29 ms on commands, 36 -> 45 ms on talk, 33 -> 35 ms on the coach's voice.

A command is short: an utterance still going after ``max_command_ms`` is talk, and says
nothing more until it ends or decoding restarts at the first pause after ``max_utt_ms`` (in
endless babble, such as a television, the voice activity detector may never see an end: without
that restart the coach would be deaf there). After such a restart a phrase fires only when a
real end of speech follows it: partial results inside continuous speech (the coach's own
lines run together) were where false commands came from.

``p``, ``g`` and that limit were chosen on the TUNE voices (see tests/speech.py), clean
speech, streamed, before the noise suppressor was added; talk is 20 sentences and 20 short
replies ("okay", "come here", "not bad") per voice:

    p      g    limit   accuracy  false/60 short  false/60 sentences
    0.1    0.9   none     0.67         6               6
    0.01   0.5   1.8 s    0.73        10              10
    1e-4   0.5   1.8 s    0.80        14              13     <- chosen
    no garbage,  1.8 s    0.91        37               0     (no early firing)

A coach that does not hear "ouch" or "easier" is the worse failure for someone alone on a
mat, so the third row is chosen over the first (HELD-OUT voices: accuracy 0.46 ->
0.69, false commands 14 -> 26 per 160 talk utterances).

The grammar wants a phrase alone, so a command said as the coach finishes a word is lost: the
remainder of the coach's voice that the echo canceller leaves starts the utterance, and the
whole of it becomes garbage phones. A short utterance that comes out as garbage gets a second
look with a grammar in which a phrase may follow up to ``lead_phones`` other sounds. What that
finds carries the time the phrase began (``Hypothesis.lead_ms``), and is believed only where
the coach was talking then (``EchoGuard.lead_explained``), and only if it is a command that is
safe to get wrong (``SAFE_TO_GET_WRONG``: pain, pause, back lifting, easier). Measured with
the coach's word 20 dB under the user, who starts 0.1-0.3 s into it (8 phrases, 4 coach
words): TUNE voices heard 10 -> 37 of 96, wrong 1 -> 2; HELD-OUT 5 -> 32 of 128, wrong 3 -> 6.

A command fires when the whole utterance so far is exactly one phrase and that partial
hypothesis stays the same for ``stable_ms`` of audio with a pause of ``end_quiet_ms`` after it,
or at the end of the utterance (the voice activity detector saw the speech end).

Latency: pocketsphinx's endpointer returns speech a whole decision window late (270 ms), so
it only marks where utterances start and end; the decoder gets the frames as they arrive.
Command to firing, TUNE voices, clean: p50 352 -> 112 ms, p95 -> 220 ms (143 and 220 ms since a
phrase waits for a pause after it, ``end_quiet_ms``).
"""

from __future__ import annotations

import logging
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..denoise import DELAY_MS as DENOISE_DELAY_MS
from ..denoise import denoised
from ..intents import Intent, PhraseTable
from . import RATE, SAFE_TO_GET_WRONG, AsrError, Hypothesis, prefix_conflicts
from .everyday_en import WORDS as EVERYDAY_WORDS
from .gate import BackgroundGate

log = logging.getLogger(__name__)

#: The phones of the CMU dictionary (the wheel's en-us model), one garbage pseudo-word each.
PHONES: tuple[str, ...] = tuple(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH "
    "UH UW V W Y Z ZH".split()
)
_PHONE_WORD = "+ph_"  # prefix of the pseudo-words; no dictionary word starts with "+"
SAMPLES_PER_FRAME = 160  # the decoder's features come every 10 ms
CMN_SET_FRAMES = 500
"""How many frames of weight pocketsphinx gives a cepstral mean it is set to (its window)."""


@dataclass(frozen=True)
class SphinxSettings:
    """Grammar, voice activity and firing settings.

    garbage_prob: prior probability of the garbage (phone loop) path (0..1).
    phone_prob: probability of one more phone in the garbage loop (0..1); lower makes the
        loop pay more per phone, so commands win more often (more hits, more false commands).
    lw: language weight: grammar log-probabilities are multiplied by this (ratio).
    filler_prob: probability of a noise filler between words (0..1); higher lets steady
        noise around a phrase be noise instead of turning the utterance into garbage phones.
    remove_noise: spectral noise subtraction in the front end (steady noise such as a fan).
    vad_mode: voice activity aggressiveness (0 loose .. 3 strict).
    vad_window_s: window over which speech/non-speech is decided (seconds).
    vad_ratio: fraction of that window that must agree to switch (0..1); 0.5 lets a
        300 ms word like "ready" start an utterance.
    stable_ms: a partial result must stay the same complete phrase this long (ms of audio).
    partial_lag_ms: typical delay from the phrase end to the partial showing it (ms, measured
        on the TUNE voices; negative: the decoder completes the last word before it ends).
    hangover_frames: non-speech frames (30 ms) after the last speech frame that still count
        in the running cepstral mean kept at the end of an utterance (see ``__call__``).
        TUNE voices: 0 -> accuracy 0.82, 1 -> 0.81 with fewer false commands, 3 -> 0.81,
        6 -> 0.78.
    partial_every: look at the partial hypothesis every this many 30 ms frames (count);
        reading it is the costly part of decoding. While the partial is a complete phrase it
        is looked at every frame, so a phrase fires on the frame it becomes stable.

        In the quiet after a phrase the partial often turned into garbage phones just before
        the phrase had been stable for ``stable_ms`` (the decoder is then fed the quieter
        background frames), and the command fired only when the endpointer closed the
        utterance, 300-350 ms after the word. A partial that turns into garbage after the
        speech has stopped now leaves the phrase standing (see ``_partial``). Against the
        every-frame look alone, commands heard and latency p50/p95 (ms), TUNE voices: clean
        0.843 -> 0.850, 122/188 -> 122/188; babble 20 dB 0.732 -> 0.739, 102/199 -> 101/196;
        white 10 dB 0.301 -> 0.346, 102/336 -> 100/218 (wrong commands 6 -> 7); HELD-OUT
        clean 0.775 -> 0.784, 128/256 -> 128/197 (wrong 6 -> 7); false commands in 120 and
        160 lines of talk 19 and 20, as before. A shorter ``stable_ms`` (120) instead gave
        more wrong commands in noise (white 10 dB: 6 -> 8).
    max_utt_ms: decoding restarts at the first pause after this much speech (ms), which
        bounds the cost of continuous speech such as the coach's own voice.
    max_command_ms: an utterance longer than this is talk, not a command (the longest
        phrase takes about 1.5 s): nothing more fires in it until it ends or decoding
        restarts at ``max_utt_ms`` (ms).
    gate_db: a frame counts as speech for the endpointer only when it is this much louder
        than the background (dB; 0 turns the gate off). TUNE voices, commands heard:

            gate   clean  babble 20 dB  music 20 dB  babble 10 dB  false/120 talk
            off    0.82      0.10         0.00          0.09           30
            6      0.85      0.28         0.09           -             33
            10     0.85      0.45         0.52         0.31            33
            14     0.85      0.52         0.60         0.35            35
    background_s, background_pct: the background is this percentile (%) of the frame
        levels of the last ``background_s`` seconds. At the 30th percentile the background
        rose to the level of the coach's own lines (300 ms apart) and chopped them into
        command-sized bursts: 17 false commands in 3.6 minutes of its speech after the echo
        guard; at the 10th, 0 (gate 14 dB: babble 0.44, music 0.52, false/120 talk 32).
    denoise: suppress steady background noise first (see voicecoach.denoise): commands
        heard with white noise 20 dB under the voice 41% -> 50%, at 10 dB 0% -> 19%, clean
        unchanged (TUNE voices).
    quiet_gain_db: frames of an utterance that are not ``gate_db`` above the background
        reach the decoder this much quieter (dB; 0 leaves them alone). The grammar wants the
        phrase alone, and the model has no noise words: the background noise before and
        after a word was decoded as garbage phones ("f", "th" for white noise), and turned a
        clean "easier" 40 dB above white noise into garbage. TUNE voices, commands heard:

            gain    clean  white 20 dB  white 10 dB  babble 20 dB  false/120 talk
            0 dB    0.85      0.62         0.20          0.44            32
            -20     0.84      0.77           -           0.65             -
            -30     0.84      0.79         0.25          0.72            30
            -45     0.84      0.72           -           0.77             -
    lead_phones: in the second look at a garbage utterance, how many other sounds (phones)
        may come before the phrase (count; 0 turns the second look off).
    lead_max_ms: only an utterance this short gets a second look (ms): a command after the
        end of one of the coach's words, not a sentence.
    end_quiet_ms: a stable partial phrase fires only after this much non-speech (ms; 0 fires
        inside running speech): a sentence that starts like a command ("My brother bought
        ..." -> "my back hurts") no longer fires in its first words. Clean, 60 talk lines per
        voice set:

            quiet   TUNE acc  false  p50/p95 ms   HELD-OUT acc  false  p50/p95 ms
            0        0.837     34    112/217         0.750      40    140/245
            60       0.837     17    128/220           -         -    -
            90       0.837     17    143/220         0.760      20    157/247
            150      0.837     17    195/226           -         -    -

        Babble 20 dB (TUNE): accuracy 0.725 -> 0.739, wrong 6 -> 4. Every false command left
        is a short reply ("not bad" -> "not now").
    bestpath: at the end of an utterance, search the word lattice again for the best path
        (a third pass). Off: CPU per audio second 37 -> 30 ms (TUNE, clean), 41 -> 29 ms
        (babble 20 dB); accuracy TUNE 0.837 -> 0.837, HELD-OUT 0.760 -> 0.765; false
        commands in talk TUNE 17 -> 19 of 120, HELD-OUT 20 -> 20 of 160.
    cmn_start: the cepstral mean the decoder starts a session from (13 values). The model's
        own (40, 3, -1, 0, ...) is far from what this front end gives (the denoiser, the
        quieter background frames): decoding the TUNE voices' commands, the running mean
        settles at (51.1, -1.9, -9.9, 24.8, ...) (clean; c0 55 with white noise 20 dB under
        the voice). It takes several utterances to get there, and a user who speaks once
        after a long quiet (the coach's voice is removed) is heard from the start value.
        Every phrase said once, each heard by a fresh decoder (``score_said_once``):

            start value, second look     TUNE   wrong    HELD-OUT  wrong   coach's lines
            model's, none                0.706    2       0.520      5      -
            model's, refit               0.771    3       0.642     10      -
            settled, refit               0.84     -       0.73      12     2 commands
            halfway, none                0.797    2       0.657      8      -
            halfway, refit               0.817    3       0.711     11     0  <- chosen

        "Coach's lines": the coach's own voice, raw, through the echo guard
        (test_pocketsphinx_on_the_coachs_own_voice): from the settled value the decoder
        heard "pause" in "Hold it there." The HELD-OUT wrong commands are mostly "make it
        easier" and "make it harder" taken for each other or for "go".
    refit_prior_frames: a short utterance that came out as garbage, and in which the look for
        a phrase after other sounds found none, is decoded again with the cepstral mean of
        the utterance itself, weighed against the running mean as this many 10 ms frames of it
        (0 turns this look off). Tried first, it heard slt's "easier" said over the end of
        the coach's "Hold." as "too easy". From the settled start value, TUNE white
        20 dB said-once accuracy by weight: 1 frame 0.843, 50 0.843, 200 0.824 (clean 0.856
        at 50 and 200).
    talk_words: how many of the commonest everyday words (``everyday_en.WORDS``) may make up
        the everyday-talk path (count; 0 turns the path off); command words are left out.
    talk_min_phones: only words of at least this many phones (count) are in that path.
    talk_word_prob: probability of each word of that path (0..1); higher rejects more talk
        and takes more commands for talk.
    floor_dbfs: a quiet microphone's own noise at this level (dB re full scale, RMS; None
        adds none) is added to the input. Digital silence (a WAV file's, a recording's lost
        stretch, a virtual microphone) is far quieter than anything the model was trained on,
        and a phrase said after a long stretch of it was often decoded as garbage phones
        (flite's kal "pain" after a minute of exact zeros; heard with a floor at -80, -75 or
        -70 dBFS). Every phrase said once after exact zeros, none -> -75 dBFS: after 10 s
        (flite slt, rms, kal, awb, espeak m3) 196 -> 197 of 255; after 30 s (kal, awb, slt)
        117 -> 122 of 153; after 60 s (kal, m3) 53 -> 57 of 102. The test streams already
        carry a -70 dBFS floor (``tests/speech.mic_floor``), which this hardly raises.
    beam, word_beam: pruning beams (relative probability; smaller prunes less).
    max_hmm_per_frame: cap on active HMMs per frame (count), bounding the worst case.
    """

    garbage_prob: float = 0.5
    gate_db: float = 14.0
    background_s: float = 5.0
    background_pct: float = 10.0
    phone_prob: float = 1e-4
    lw: float = 6.5
    filler_prob: float = 1e-8
    remove_noise: bool = False
    vad_mode: int = 1
    vad_window_s: float = 0.3
    vad_ratio: float = 0.5
    stable_ms: int = 150
    hangover_frames: int = 1
    partial_lag_ms: int = -90
    partial_every: int = 2
    max_utt_ms: float = 3000.0
    max_command_ms: float = 1800.0
    denoise: bool = True
    beam: float = 1e-25
    word_beam: float = 1e-15
    max_hmm_per_frame: int = 1500
    quiet_gain_db: float = -30.0
    lead_phones: int = 3
    lead_max_ms: float = 2400.0
    end_quiet_ms: float = 90.0
    bestpath: bool = False
    cmn_start: tuple[float, ...] | None = (  # halfway from the model's to the settled mean
        45.5, 0.5, -5.4, 12.4, -8.2, -1.8, -0.4, -8.4, 3.5, -5.8, 5.3, -1.8, -5.3)
    refit_prior_frames: float = 50.0
    talk_words: int = 300
    talk_min_phones: int = 3
    talk_word_prob: float = 1e-9
    floor_dbfs: float | None = -75.0


WAKE_SETTINGS = SphinxSettings(garbage_prob=0.5, phone_prob=1e-4, quiet_gain_db=0.0,
                               lead_phones=0, refit_prior_frames=0.0, talk_words=0)
"""Defaults for a table of ONE phrase (a standby wake word such as "computer"). Against the
phone loop, one phrase has no rival phrases to lose to, so the same ``p``/``g`` hold a lot more
back: with (0.1, 0.9) "computer" was heard from 3 of 7 voices; with these from 7 of 7, and
still 0 false wakes in 60 talk sentences and the coach's lines (measured on the TUNE voices).
Quieter background frames (``quiet_gain_db``) did not help here: "computer" from 6 of 7
voices at 0, -20 and -30 dB alike, but at -30 the one missed was a TUNE voice. No second
look: standby has no coach talking, and a start phrase is not a command safe to get wrong;
no refit either (a second chance for talk to come out as the start phrase, not measured)."""


def _import_ps() -> Any:
    try:
        import pocketsphinx
    except ImportError as e:  # pragma: no cover - pocketsphinx is a dependency
        raise AsrError("pocketsphinx is not installed: pip install pocketsphinx") from e
    return pocketsphinx


EXTRA_PRONUNCIATIONS: dict[str, tuple[str, ...]] = {
    # The dictionary has only AW CH. Said fast, the diphthong is heard as its first half:
    # espeak's m3 (a TUNE voice) came out of the phone loop as "AA CH", and its "ouch" was
    # missed. With this: pain phrases heard, TUNE 11 -> 12 of 15, HELD-OUT 10 -> 12 of 20
    # (white noise 20 dB: 6 -> 7); false commands in talk unchanged (19 of 120, 20 of 160);
    # all commands, TUNE babble 20 dB: 0.739 -> 0.732.
    "ouch": ("AA CH",),
}
"""Pronunciations added to the dictionary's, for words of the commands (CMU phones)."""


def _dictionary_entries(path: Path, words: set[str]) -> tuple[str, frozenset[str]]:
    """The lines of the pronunciation dictionary at ``path`` for ``words`` (with their
    alternative pronunciations, ``word(2)`` ..., and ``EXTRA_PRONUNCIATIONS``), and the
    entries (``word(n)``) that came from ``EXTRA_PRONUNCIATIONS``. The decoder loads only
    these: the whole dictionary (134,000 words) cost 60 MB at load time and half a second,
    for the few dozen words a grammar uses."""
    try:
        with path.open(encoding="utf-8") as f:
            lines = [line for line in f if line.split(None, 1)[0].split("(")[0] in words]
    except OSError as e:
        raise AsrError(f"pocketsphinx's dictionary cannot be read ({e}): reinstall it with "
                       "pip install --force-reinstall pocketsphinx") from None
    extra: set[str] = set()
    for word, prons in EXTRA_PRONUNCIATIONS.items():
        if word in words:
            n = sum(1 for line in lines if line.split(None, 1)[0].split("(")[0] == word)
            for k, pron in enumerate(prons, start=n + 1):
                extra.add(f"{word}({k})")
                lines.append(f"{word}({k}) {pron}\n")
    return "".join(lines), frozenset(extra)


def grammar(phrases: list[str], s: SphinxSettings, lead: bool = False, talk: Sequence[str] = ()
            ) -> tuple[int, list[tuple[Any, ...]]]:
    """The FSG as (final state, transitions (from, to, probability[, word])); start state 0.

    ``lead``: the phrase may also follow up to ``lead_phones`` other sounds (the tail of the
    coach's own word under the user's first syllable), as phone pseudo-words.
    ``talk``: everyday words for a second garbage path, a loop over them alone."""
    trans: list[tuple[Any, ...]] = []
    loop, n = 2, 3  # 0 start, 1 final, 2 the garbage loop; more are made as needed
    # Where a phrase may begin, with what probability: at the start, or after the lead.
    entries = [(0, 1.0 - s.garbage_prob)]
    for k in range(s.lead_phones if lead and s.garbage_prob > 0.0 else 0):
        src, dst, n = (0 if k == 0 else n - 1), n, n + 1
        for ph in PHONES:
            trans.append((src, dst, s.garbage_prob / len(PHONES), _PHONE_WORD + ph.lower()))
        entries.append((dst, 0.5 if k < s.lead_phones - 1 else 1.0))
    for p in phrases:
        words = p.split()
        srcs = [(e, prob / len(phrases)) for e, prob in entries]
        for k, w in enumerate(words):
            dst = 1 if k == len(words) - 1 else n
            if dst != 1:
                n += 1
            trans.extend((src, dst, prob, w) for src, prob in srcs)
            srcs = [(dst, 1.0)]
    if s.garbage_prob <= 0.0:
        return 1, trans
    share = 0.5 if talk else 1.0  # of the garbage prior, the phone loop's
    trans.append((0, loop, s.garbage_prob * share))
    for ph in PHONES:
        trans.append((loop, loop, s.phone_prob / len(PHONES), _PHONE_WORD + ph.lower()))
    trans.append((loop, 1, 1.0 - s.phone_prob))
    if talk:
        trans.append((0, n, s.garbage_prob * (1.0 - share)))
        trans.extend((n, n, s.talk_word_prob, w) for w in talk)
        trans.append((n, 1, 1.0))
    return 1, trans


def _words(dec: Any) -> list[Any]:
    """The segments of the decoder's best path that are grammar words: no silence, noise or
    sentence markers, and no phone pseudo-words."""
    return [sg for sg in dec.seg() or () if not sg.word.startswith(("<", "[", _PHONE_WORD))]


def _cmn_values(text: str) -> np.ndarray:
    return np.array([float(v) for v in text.split(",")])


def _with_floor(blocks: Iterable[bytes], dbfs: float) -> Iterator[bytes]:
    """``blocks`` (16-bit PCM) with Gaussian noise at ``dbfs`` (RMS) added: a microphone's own
    noise floor, the same on every run."""
    rng = np.random.default_rng(7)
    level = 32768.0 * 10 ** (dbfs / 20.0)
    for block in blocks:
        x = np.frombuffer(block, dtype="<i2").astype(np.float64)
        x += level * rng.standard_normal(len(x))
        yield np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()


def _split_lead(text: str) -> tuple[int, str]:
    """(how many phone pseudo-words come first, the rest): "+ph_dh easier" -> (1, "easier")."""
    words = text.split()
    k = 0
    while k < len(words) and words[k].startswith(_PHONE_WORD):
        k += 1
    return k, " ".join(words[k:])


class SphinxRecognizer:
    engine = "pocketsphinx"

    def __init__(
        self,
        lang: str = "en",
        settings: SphinxSettings | None = None,
        table: PhraseTable | None = None,
    ) -> None:
        if lang != "en":
            raise AsrError(f"pocketsphinx only has an English model, not {lang!r}: use vosk")
        self.lang = lang
        self.table = table or PhraseTable.for_lang(lang)
        self._ps = _import_ps()
        phrases = self.table.all_phrases()
        if not phrases:
            raise AsrError("the phrase table has no phrases: nothing to listen for")
        default = WAKE_SETTINGS if len(phrases) == 1 else SphinxSettings()
        self.settings = settings or default
        words = {w for p in phrases for w in p.split()}
        # Everyday talk is its own rival path, made of common words that are in no command:
        # talk made of command words stays for the phone loop to explain.
        talk = [w for w in EVERYDAY_WORDS[: self.settings.talk_words] if w not in words]
        self._dict_text, self._extra_variants = _dictionary_entries(
            Path(self._ps.get_model_path("en-us/cmudict-en-us.dict")), words | set(talk))
        found = {line.split(None, 1)[0].split("(")[0] for line in self._dict_text.splitlines()}
        missing = sorted(words - found)
        if missing:
            raise AsrError(f"pocketsphinx dictionary lacks {missing}: rephrase those commands")
        phones: dict[str, int] = {}  # of each word's first pronunciation
        for line in self._dict_text.splitlines():
            word, pron = line.split(None, 1)
            phones.setdefault(word.split("(")[0], len(pron.split()))
        self.talk = [w for w in talk if phones.get(w, 0) >= self.settings.talk_min_phones]
        config = self._ps.Config(
            hmm=self._ps.get_model_path("en-us/en-us"),
            samprate=RATE,
            loglevel="FATAL",
        )
        config["lm"] = None  # Config() names the default language model: 30 MB unused here
        config["beam"] = self.settings.beam
        config["pbeam"] = self.settings.beam
        config["wbeam"] = self.settings.word_beam
        config["maxhmmpf"] = self.settings.max_hmm_per_frame
        config["lw"] = self.settings.lw
        config["fillprob"] = self.settings.filler_prob
        config["remove_noise"] = self.settings.remove_noise
        config["silprob"] = max(0.005, self.settings.filler_prob)
        config["bestpath"] = self.settings.bestpath
        self._config = config
        self.final_state, self.transitions = grammar(phrases, self.settings, talk=self.talk)
        self.lead_transitions = (grammar(phrases, self.settings, lead=True, talk=self.talk)[1]
                                 if self.settings.lead_phones else None)
        self.plain_transitions = grammar(phrases, self.settings)[1] if self.talk else None
        self._early = frozenset(phrases) - prefix_conflicts(self.table)

    def _decoder(self) -> Any:
        with tempfile.TemporaryDirectory(prefix="voicecoach-") as tmp:
            path = Path(tmp) / "commands.dict"
            path.write_text(self._dict_text, encoding="utf-8")
            self._config["dict"] = str(path)
            dec = self._ps.Decoder(self._config)  # reads the dictionary here
        if self.settings.cmn_start is not None:
            dec.set_cmn(",".join(str(v) for v in self.settings.cmn_start))
        for k, ph in enumerate(PHONES):
            dec.add_word(_PHONE_WORD + ph.lower(), ph, k == len(PHONES) - 1)
        searches = {"voicecoach": self.transitions, "lead": self.lead_transitions,
                    "plain": self.plain_transitions}
        for name, trans in searches.items():
            if trans is not None:
                dec.add_fsg(name, dec.create_fsg(name, 0, self.final_state, trans))
        dec.activate_search("voicecoach")
        return dec

    def _again(self, dec: Any, audio: bytes, search: str, cmn: str) -> tuple[Any, list[Any]]:
        """Decode ``audio`` again as one utterance with ``search``, starting from the cepstral
        mean ``cmn``; the decoder is left as it was (search and mean)."""
        keep = dec.get_cmn(False)
        dec.set_cmn(cmn)
        dec.activate_search(search)
        try:
            dec.start_utt()
            dec.process_raw(audio, False, True)
            dec.end_utt()
            return dec.hyp(), _words(dec)
        finally:
            dec.activate_search("voicecoach")
            dec.set_cmn(keep)

    def _own_cmn(self, dec: Any, audio: bytes) -> str:
        """The cepstral mean of ``audio`` itself, weighed against the one the utterance
        started from as ``refit_prior_frames`` frames; the decoder's mean is left as it was."""
        keep = dec.get_cmn(False)
        start = _cmn_values(self._utt_cmn)
        dec.set_cmn(self._utt_cmn)
        try:
            dec.start_utt()
            dec.process_raw(audio, True, False)  # features only: the running mean takes them
            mixed = _cmn_values(dec.get_cmn(True))
            dec.end_utt()
        finally:
            dec.set_cmn(keep)
        n = len(audio) / 2 / SAMPLES_PER_FRAME
        own = ((CMN_SET_FRAMES + n) * mixed - CMN_SET_FRAMES * start) / n
        w = self.settings.refit_prior_frames
        return ",".join(f"{v:.3f}" for v in (w * start + n * own) / (w + n))

    def _refit(self, dec: Any, utt_start_ms: float) -> Hypothesis | None:
        """A second look at a short utterance that was garbage, with its own cepstral mean:
        a user heard after a long quiet is decoded with a mean from before it, which can be
        far from their voice's (see ``SphinxSettings.cmn_start``)."""
        audio = b"".join(self._utt_audio)
        if not self.settings.refit_prior_frames or self._longer_than_a_command(audio):
            return None
        return self._look(dec, audio, "voicecoach", self._own_cmn(dec, audio), utt_start_ms,
                          "with the utterance's own cepstral mean")

    def _pain_without_talk(self, dec: Any, utt_start_ms: float) -> Hypothesis | None:
        """A last look at a short utterance that was garbage: without the everyday-talk path,
        is it a pain report? That path takes some commands for talk (the price of rejecting
        talk), and a pain report must never be one of them: only pain is believed here."""
        audio = b"".join(self._utt_audio)
        if self.plain_transitions is None or self._longer_than_a_command(audio):
            return None
        return self._look(dec, audio, "plain", self._utt_cmn, utt_start_ms,
                          "without the talk path", only=Intent.PAIN)

    def _longer_than_a_command(self, audio: bytes) -> bool:
        return len(audio) > self.settings.max_command_ms * RATE * 2 / 1000

    def _look(self, dec: Any, audio: bytes, search: str, cmn: str, utt_start_ms: float,
              how: str, only: Intent | None = None) -> Hypothesis | None:
        """``audio`` (the utterance from ``utt_start_ms``) decoded again: its phrase, if it is
        one (and the ``only`` intent, if given)."""
        hyp, words = self._again(dec, audio, search, cmn)
        intent = self.table.exact(hyp.hypstr) if hyp is not None else None
        if intent is None or (only is not None and intent is not only):
            return None
        log.debug("pocketsphinx: %r %s", hyp.hypstr, how)
        end_frame = words[-1].end_frame + 1 if words else len(audio) // (2 * SAMPLES_PER_FRAME)
        return self._hyp(utt_start_ms + 10.0 * end_frame, hyp.hypstr, float(hyp.prob))

    def _after_sounds(self, dec: Any, utt_start_ms: float) -> Hypothesis | None:
        """A second look at a short utterance that was garbage: is it a phrase after a few
        other sounds? The hypothesis says where the phrase began (``lead_ms``); the caller
        believes it only if the coach's own voice can be those sounds."""
        audio = b"".join(self._utt_audio)
        if self.lead_transitions is None or len(audio) > self.settings.lead_max_ms * RATE * 2 / 1000:
            return None
        # The second look starts from the cepstral mean the first one started from, and
        # leaves the one the first look ended with (decoding the utterance again moved it:
        # measured, a wake word missed after it).
        hyp, words = self._again(dec, audio, "lead", self._utt_cmn)
        if hyp is None:
            return None
        log.debug("pocketsphinx: second look %r", hyp.hypstr)
        lead, text = _split_lead(hyp.hypstr)
        # Only a command that is safe to get wrong: this look hears far more of what is said
        # over the coach's voice, but mistakes one command for another far more often too
        # (TUNE voices, the coach's word 20 dB under the user, every command allowed: heard
        # 8 -> 59 of 96 phrases exactly, a wrong command 1 -> 10, "ouch" as "go" among them).
        if not lead or not words or self.table.exact(text) not in SAFE_TO_GET_WRONG:
            return None
        if any(sg.word in self._extra_variants for sg in words):
            # An added pronunciation is looser than the dictionary's; after other sounds it
            # matched the coach's own voice (its test lines came out as "ouch").
            return None
        # Frames (10 ms) count from the utterance start; _hyp takes off the denoiser's delay.
        end_ms = utt_start_ms + 10.0 * (words[-1].end_frame + 1)
        h = self._hyp(end_ms, text, float(hyp.prob))
        if h is not None:
            begin_ms = utt_start_ms + 10.0 * words[0].start_frame - (end_ms - h.t_ms)
            h = replace(h, lead_ms=round(begin_ms))
            log.debug("pocketsphinx: %r after other sounds, from %d ms", text, h.lead_ms)
        return h

    def _hyp(self, t_ms: float, text: str, prob: float) -> Hypothesis | None:
        intent = self.table.exact(text)
        if intent is None:
            if text:
                log.debug("pocketsphinx: garbage %r", text)
            return None
        if self.settings.denoise:
            t_ms -= DENOISE_DELAY_MS
        return Hypothesis(int(round(t_ms)), intent, text, prob, self.engine)

    def __call__(self, blocks: Iterable[bytes]) -> Iterator[Hypothesis]:
        s = self.settings
        ps = self._ps
        ep = ps.Endpointer(
            window=s.vad_window_s, ratio=s.vad_ratio, vad_mode=s.vad_mode, sample_rate=RATE
        )
        frame = ep.frame_bytes
        dec = self._decoder()
        vad = ps.Vad(s.vad_mode, RATE)
        quiet, cmn = 0, None
        if s.floor_dbfs is not None:
            blocks = _with_floor(blocks, s.floor_dbfs)
        if s.denoise:
            blocks = denoised(blocks)
        self._dither_pattern = np.random.default_rng(0).integers(-1, 2, ep.frame_bytes // 2)
        frame_ms = 1000.0 * ep.frame_length
        # The endpointer hands speech back a whole window late (270 ms with the defaults).
        # It only decides where an utterance starts and ends: the decoder is fed our own
        # copy of the frames from the speech start, then each frame as it arrives.
        recent: deque[bytes] = deque(maxlen=int(2 * s.vad_window_s * 1000 / frame_ms) + 4)
        above_background = BackgroundGate(s.gate_db, s.background_pct, s.background_s, frame_ms)
        self._quiet_frame = self._dither(bytes(frame))
        buf = b""
        nin = 0  # frames handed to the endpointer
        in_utt = fired = restarted = too_long = False
        utt_start_ms = 0.0
        nframe = 0
        self._partial_text, self._since = "", 0.0
        self._utt_audio: list[bytes] = []  # what the decoder got in this utterance
        self._utt_cmn = dec.get_cmn(False)
        for block in blocks:
            buf += block
            while len(buf) >= frame:
                chunk, buf = self._dither(buf[:frame]), buf[frame:]
                nin += 1
                now = nin * frame_ms
                loud = above_background(chunk)
                fed = chunk if loud else self._quieter(chunk)  # what the decoder gets
                recent.append(fed)
                speech = ep.process(chunk if loud else self._quiet_frame)
                if not in_utt:
                    if speech is None:
                        continue
                    self._utt_cmn = dec.get_cmn(False)  # for second looks, and to go back to
                    dec.start_utt()
                    in_utt, fired, self._partial_text = True, False, ""
                    restarted = too_long = False
                    quiet, cmn = 0, None
                    utt_start_ms = ep.speech_start * 1000.0
                    log.debug("utterance from %.0f (now %.0f)", utt_start_ms, now)
                    back = min(len(recent), max(1, round((now - utt_start_ms) / frame_ms)))
                    self._utt_audio = list(recent)[-back:]
                    dec.process_raw(b"".join(self._utt_audio), False, False)
                else:
                    self._utt_audio.append(fed)
                    dec.process_raw(fed, False, False)
                    # The decoder keeps its running cepstral mean over whole utterances: the
                    # non-speech at the end of each one would drag it towards silence. The
                    # mean as it stood when the speech stopped is restored at the end.
                    quiet = 0 if loud and vad.is_speech(chunk) else quiet + 1
                    if quiet == s.hangover_frames + 1:
                        cmn = dec.get_cmn(True)
                    elif quiet == 0:
                        cmn = None
                nframe += 1
                if now - utt_start_ms > s.max_command_ms:
                    fired = too_long = True  # too long for a command: say nothing more in it
                long_ms = now - utt_start_ms - s.max_utt_ms
                if long_ms > 0 and (quiet > 0 or long_ms > s.max_utt_ms):
                    # Talk, not a command: listen afresh from the next pause between words
                    # (a restart inside a word lets its tail sound like a phrase).
                    dec.end_utt()
                    dec.set_cmn(self._utt_cmn)  # see below: talk leaves the mean alone
                    dec.start_utt()
                    fired, self._partial_text, utt_start_ms = False, "", now
                    restarted, self._utt_audio = True, []
                elif nframe % s.partial_every == 0 or self._partial_text in self._early:
                    # A phrase fires early only once the speech pauses after it; inside
                    # endless speech (after a restart) only at a real end.
                    h = self._partial(dec, now, quiet, hold=fired or restarted
                                      or quiet * frame_ms < s.end_quiet_ms)
                    if h is not None:
                        fired = True
                        yield h
                if not ep.in_speech:
                    h = self._end(dec, fired, utt_start_ms)
                    if too_long:
                        # Too long for a command (talk, or noise the gate has not learned
                        # yet, such as music just switched on): the cepstral mean goes back
                        # to where this utterance found it, not dragged towards that sound.
                        dec.set_cmn(self._utt_cmn)
                    elif cmn is not None:
                        dec.set_cmn(cmn)
                    in_utt = False
                    if h is not None:
                        yield h
        if in_utt:
            if buf:
                self._utt_audio.append(buf)
                dec.process_raw(buf, False, False)
            h = self._end(dec, fired, utt_start_ms)
            if h is not None:
                yield h

    def _quieter(self, chunk: bytes) -> bytes:
        """A background frame as the decoder gets it: ``quiet_gain_db`` quieter, dithered."""
        g = self.settings.quiet_gain_db
        if g >= 0.0:
            return chunk
        x = np.frombuffer(chunk, dtype="<i2").astype(np.float64) * 10 ** (g / 20.0)
        return self._dither(np.round(x).astype("<i2").tobytes())

    def _dither(self, chunk: bytes) -> bytes:
        """``chunk`` plus a fixed +-1 LSB pattern: the voice activity detector's noise estimate
        stalls on exact digital silence (a muted input, a WAV's zero padding) and then takes
        several phrases and the pauses between them for one long utterance (measured)."""
        x = np.frombuffer(chunk, dtype="<i2").astype(np.int32) + self._dither_pattern[: len(chunk) // 2]
        return np.clip(x, -32768, 32767).astype("<i2").tobytes()

    def _partial(self, dec: Any, now: float, quiet: int, hold: bool) -> Hypothesis | None:
        """A command when the partial hypothesis is a complete phrase that has stayed put,
        unless ``hold`` (the partial is still tracked, so its stable time stays right).
        ``quiet``: non-speech frames since the last speech frame."""
        hyp = dec.hyp()
        text = hyp.hypstr if hyp is not None else ""
        if quiet and self._partial_text in self._early and self.table.exact(text) is None:
            # The speech has stopped after a phrase, and only the quiet frames turned it
            # into garbage phones (as at the end of an utterance, ``_end``): the phrase
            # stays the partial, or a clean "slower" fired only at the utterance's end.
            text = self._partial_text
        if text != self._partial_text:
            log.debug("partial at %.0f: %r", now, text)
            self._partial_text, self._since = text, now
        s = self.settings
        if hold or text not in self._early or now - self._since < s.stable_ms:
            return None
        return self._hyp(self._since - s.partial_lag_ms, text, 1.0)

    def _end(self, dec: Any, fired: bool, utt_start_ms: float) -> Hypothesis | None:
        dec.end_utt()
        hyp = dec.hyp()
        if fired:
            return None
        text = hyp.hypstr if hyp is not None else ""
        if self.table.exact(text) is None and self.table.exact(self._partial_text) is not None:
            # The speech stopped right after the phrase: the last partial hypothesis was that
            # phrase, and only the silence after it turned the final one into garbage phones.
            return self._hyp(self._since - self.settings.partial_lag_ms, self._partial_text, 1.0)
        if not text:
            return None
        if self.table.exact(text) is None:
            return (self._after_sounds(dec, utt_start_ms) or self._refit(dec, utt_start_ms)
                    or self._pain_without_talk(dec, utt_start_ms))
        words = _words(dec)
        end_frame = words[-1].end_frame + 1 if words else dec.n_frames()
        # Frames (10 ms) count from the utterance start, which the endpointer reports.
        return self._hyp(utt_start_ms + 10.0 * end_frame, hyp.hypstr, float(hyp.prob))
