"""Instrument definitions: items, allowed answers, labels, licence and source.

A form (the clinic web app's patient page) renders from these definitions; ``validate_answers``
in ``scoring`` checks what comes back. Item keys are stable: they are the CSV columns' suffixes,
the FHIR ``linkId`` values and the keys of ``Response.answers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property


class ItemKind(Enum):
    CHOICE = "choice"  # one of the listed integer codes, each with its label
    INTEGER = "integer"  # a whole number from minimum to maximum (an NRS, a percentage)
    TEXT = "text"  # free text, optional, at most max_length characters


class When(Enum):
    """When an instrument is asked: change questions make no sense at baseline."""

    ANY = "baseline and follow-up"
    FOLLOW_UP = "follow-up only"


@dataclass(frozen=True)
class Choice:
    code: int
    label: str


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    kind: ItemKind
    choices: tuple[Choice, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    min_label: str = ""  # anchor text at the low end of a numeric scale
    max_label: str = ""
    unit: str = ""  # "%" for a percentage; "" for a score
    required: bool = True
    max_length: int = 0
    prefix: str = ""  # shared lead-in shown before the item ("In the past 7 days...")

    def label_of(self, code: int) -> str:
        for choice in self.choices:
            if choice.code == code:
                return choice.label
        return str(code)

    @cached_property
    def codes(self) -> tuple[int, ...]:
        return tuple(c.code for c in self.choices)


@dataclass(frozen=True)
class Licence:
    name: str
    holder: str
    terms: str  # what we understand the terms to allow; a clinic must check them itself
    url: str
    clinic_must_check: bool


@dataclass(frozen=True)
class Instrument:
    key: str
    name: str
    version: str
    description: str
    items: tuple[Item, ...]
    when: When
    recall: str  # the period the questions ask about
    scoring: str  # the scoring rule in words
    source: str  # citation for the instrument and its scoring rule
    licence: Licence
    patient_notice: str = ""  # to show on the patient's form, above the items

    def item(self, key: str) -> Item:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    @cached_property
    def item_keys(self) -> tuple[str, ...]:
        # Cached: a big file checks millions of answers against it.
        return tuple(i.key for i in self.items)


OWN_WORDING = Licence(
    name="Apache-2.0 (this project's wording)",
    holder="this project",
    terms=(
        "The wording is this project's own; a 0-10 numeric rating scale and a percent-improvement "
        "question are generic formats not owned by anyone, as far as we know."
    ),
    url="https://www.apache.org/licenses/LICENSE-2.0",
    clinic_must_check=False,
)

NRS_PAIN = Instrument(
    key="nrs-pain",
    name="Pain intensity, 0-10 numeric rating scale (NRS)",
    version="1",
    description="Average pain over the past 7 days on an 11-point numeric rating scale.",
    items=(
        Item(
            key="pain",
            text="On average, how bad has your pain been over the past 7 days?",
            kind=ItemKind.INTEGER,
            minimum=0,
            maximum=10,
            min_label="0 = no pain",
            max_label="10 = worst pain imaginable",
        ),
    ),
    when=When.ANY,
    recall="past 7 days",
    scoring="The score is the number chosen, 0 (no pain) to 10 (worst pain imaginable).",
    source=(
        "11-point NRS as used by Farrar JT et al., Pain 2001;94:149-158 and recommended by "
        "IMMPACT (Dworkin RH et al., J Pain 2008;9:105-121); the 7-day recall matches PROMIS "
        "Global07r. Item wording is this project's."
    ),
    licence=OWN_WORDING,
)

PGIC_LABELS = (
    "Very much improved",
    "Much improved",
    "Minimally improved",
    "No change",
    "Minimally worse",
    "Much worse",
    "Very much worse",
)

PGIC = Instrument(
    key="pgic",
    name="Patient Global Impression of Change (PGIC), 7-point",
    version="1",
    description="The patient's own rating of change in overall condition since the procedure.",
    items=(
        Item(
            key="change",
            text=(
                "Since your procedure, how would you describe the change (if any) in your "
                "overall condition, including your pain, activities and quality of life?"
            ),
            kind=ItemKind.CHOICE,
            choices=tuple(Choice(code, label) for code, label in enumerate(PGIC_LABELS, 1)),
        ),
    ),
    when=When.FOLLOW_UP,
    recall="since the procedure",
    scoring=(
        "Codes 1 (very much improved) to 7 (very much worse), the order of Guy's CGI-Improvement "
        "scale used for the PGIC by Farrar et al. 2001. Lower is better."
    ),
    source=(
        "Guy W. ECDEU Assessment Manual for Psychopharmacology, US DHEW 1976 (CGI-I, 7 points); "
        "PGIC as used by Farrar JT et al., Pain 2001;94:149-158, where 'much' or 'very much "
        "improved' marked a clinically important change; IMMPACT (Dworkin 2008): minimally "
        "improved = minimally important, much improved = moderately important, very much "
        "improved = substantial. Item wording is this project's."
    ),
    licence=Licence(
        name="Public domain format (our understanding); wording Apache-2.0",
        holder="format: US DHEW publication (Guy 1976); wording: this project",
        terms=(
            "The 7-point impression-of-change format comes from a US government publication; "
            "we understand it to be free to use. The question text here is this project's own."
        ),
        url="https://www.apache.org/licenses/LICENSE-2.0",
        clinic_must_check=False,
    ),
)

PERCENT_IMPROVEMENT = Instrument(
    key="percent-improvement",
    name="Percent improvement since the procedure (0-100%)",
    version="1",
    description="How much better the patient's pain is since the procedure, as a percentage.",
    items=(
        Item(
            key="percent",
            text=(
                "Since your procedure, by how much has your usual pain improved? "
                "0% means no improvement (or worse); 100% means the pain has gone completely."
            ),
            kind=ItemKind.INTEGER,
            minimum=0,
            maximum=100,
            min_label="0% = no improvement",
            max_label="100% = complete relief",
            unit="%",
        ),
    ),
    when=When.FOLLOW_UP,
    recall="since the procedure",
    scoring=(
        "The percentage given, 0 to 100 in whole percent. Worsening is not captured here "
        "(it is in the PGIC)."
    ),
    source="Single-item percent improvement / pain relief rating; wording is this project's.",
    licence=OWN_WORDING,
)

_RATING = (
    Choice(5, "Excellent"),
    Choice(4, "Very good"),
    Choice(3, "Good"),
    Choice(2, "Fair"),
    Choice(1, "Poor"),
)
_PAST_7_DAYS = "In the past 7 days..."

PROMIS_LICENCE = Licence(
    name="HealthMeasures Terms of Use (PROMIS)",
    holder="PROMIS Health Organization; distributed by HealthMeasures, Northwestern University",
    terms=(
        "PROMIS measures are copyrighted and are NOT covered by this project's Apache-2.0 "
        "licence. As we read the HealthMeasures Terms of Use and its 'Obtain & Administer "
        "Measures' page, English and Spanish PROMIS measures are publicly available for use in "
        "one's own research, clinical practice or education without licensing or royalty fees; "
        "commercial users must seek permission to use, reproduce or distribute them; integration "
        "into proprietary technology requires written permission; items must not be reworded. "
        "HealthMeasures also reviews electronic administrations (screenshots) on request. "
        "A clinic must read and accept the current terms itself before using this form."
    ),
    url="https://www.healthmeasures.net/explore-measurement-systems/promis/obtain-administer-measures",
    clinic_must_check=True,
)

PROMIS_GLOBAL_10 = Instrument(
    key="promis-global-10",
    name="PROMIS Scale v1.2 - Global Health (Global-10)",
    version="1.2",
    description=(
        "Ten items on general, physical, mental and social health; quality of life is Global02, "
        "everyday physical function is Global06. Two raw summary scores: Global Physical Health "
        "(GPH) and Global Mental Health (GMH)."
    ),
    items=(
        Item("global01", "In general, would you say your health is:", ItemKind.CHOICE, _RATING),
        Item(
            "global02",
            "In general, would you say your quality of life is:",
            ItemKind.CHOICE,
            _RATING,
        ),
        Item(
            "global03",
            "In general, how would you rate your physical health?",
            ItemKind.CHOICE,
            _RATING,
        ),
        Item(
            "global04",
            "In general, how would you rate your mental health, including your mood and your "
            "ability to think?",
            ItemKind.CHOICE,
            _RATING,
        ),
        Item(
            "global05",
            "In general, how would you rate your satisfaction with your social activities and "
            "relationships?",
            ItemKind.CHOICE,
            _RATING,
        ),
        Item(
            "global09r",
            "In general, please rate how well you carry out your usual social activities and "
            "roles. (This includes activities at home, at work and in your community, and "
            "responsibilities as a parent, child, spouse, employee, friend, etc.)",
            ItemKind.CHOICE,
            _RATING,
        ),
        Item(
            "global06",
            "To what extent are you able to carry out your everyday physical activities such as "
            "walking, climbing stairs, carrying groceries, or moving a chair?",
            ItemKind.CHOICE,
            (
                Choice(5, "Completely"),
                Choice(4, "Mostly"),
                Choice(3, "Moderately"),
                Choice(2, "A little"),
                Choice(1, "Not at all"),
            ),
        ),
        Item(
            "global10r",
            "How often have you been bothered by emotional problems such as feeling anxious, "
            "depressed or irritable?",
            ItemKind.CHOICE,
            (
                Choice(5, "Never"),
                Choice(4, "Rarely"),
                Choice(3, "Sometimes"),
                Choice(2, "Often"),
                Choice(1, "Always"),
            ),
            prefix=_PAST_7_DAYS,
        ),
        Item(
            "global08r",
            "How would you rate your fatigue on average?",
            ItemKind.CHOICE,
            (
                Choice(5, "None"),
                Choice(4, "Mild"),
                Choice(3, "Moderate"),
                Choice(2, "Severe"),
                Choice(1, "Very severe"),
            ),
            prefix=_PAST_7_DAYS,
        ),
        Item(
            "global07r",
            "How would you rate your pain on average?",
            ItemKind.INTEGER,
            minimum=0,
            maximum=10,
            min_label="0 = no pain",
            max_label="10 = worst pain imaginable",
            prefix=_PAST_7_DAYS,
        ),
    ),
    when=When.ANY,
    recall="in general; past 7 days for Global07r, Global08r, Global10r",
    scoring=(
        "v1.2 codes: 5 is the best answer of every 5-point item (Global08r and Global10r are "
        "already reversed in their codes: 5 = none / never). Global07r (pain 0-10) is rescored "
        "0 -> 5, 1-3 -> 4, 4-6 -> 3, 7-9 -> 2, 10 -> 1. GPH raw = Global03 + Global06 + "
        "rescored Global07r + Global08r; GMH raw = Global02 + Global04 + Global05 + Global10r; "
        "each 4-20, higher is better. Global01 and Global09r are reported as single items. "
        "All ten answers are required. Raw scores only: T-scores are not computed (see README)."
    ),
    source=(
        "Hays RD, Bjorner JB, Revicki DA, Spritzer KL, Cella D. Development of physical and "
        "mental health summary scores from the PROMIS global items. Qual Life Res "
        "2009;18:873-880. PROMIS Global Health scoring instructions, HealthMeasures "
        "(healthmeasures.net). Item text as published by PROMIS; recoding of Global07r "
        "confirmed in several independent public implementations."
    ),
    licence=PROMIS_LICENCE,
)

SIDE_EFFECT_LABELS: dict[str, str] = {
    "nausea": "Nausea or vomiting",
    "itching": "Itching",
    "constipation": "Constipation",
    "urinary": "Difficulty passing urine",
    "swelling": "Swelling of the legs or ankles",
    "drowsiness": "Unusual sleepiness, confusion or slow breathing",
    "headache": "Headache that is worse when sitting or standing up",
    "numbness_weakness": "New numbness, tingling or weakness in the legs",
    "wound": "Redness, swelling, fluid or pain at the injection, wound or pump site",
    "fever": "Fever or chills",
}
# Answers a clinician should look at soon (possible overdose, infection, nerve compression,
# post-dural-puncture headache). A registry is not a triage service: see the patient notice.
REVIEW_SIDE_EFFECTS = frozenset({"drowsiness", "headache", "numbness_weakness", "wound", "fever"})
_YES_NO = (Choice(0, "No"), Choice(1, "Yes"))

SIDE_EFFECTS = Instrument(
    key="side-effects",
    name="Side effects since the procedure (checklist)",
    version="1",
    description="Yes/no checklist of common and warning side effects, plus free text.",
    items=(
        *(
            Item(key, label, ItemKind.CHOICE, _YES_NO, prefix="Since your procedure, have you had:")
            for key, label in SIDE_EFFECT_LABELS.items()
        ),
        Item(
            "other",
            "Anything else you think may be a side effect (optional)",
            ItemKind.TEXT,
            required=False,
            max_length=500,
        ),
    ),
    when=When.FOLLOW_UP,
    recall="since the procedure",
    scoring=(
        "Counts the effects answered 'Yes'. Drowsiness/slow breathing, positional headache, new "
        "numbness or weakness, wound problems and fever are flagged for clinician review."
    ),
    source=(
        "This project's checklist of effects named in intrathecal opioid, epidural and facet "
        "injection labelling and reviews; not a validated instrument."
    ),
    licence=OWN_WORDING,
    patient_notice=(
        "This form is not read straight away. If you have a fever, new weakness or numbness, "
        "trouble breathing, unusual sleepiness or a severe headache, contact the clinic now or "
        "call emergency services."
    ),
)

# --- spasticity (intrathecal baclofen) ---------------------------------------------------------

# The six MAS grades, stored as ordinal codes 0-5 (the usual convention: 1+ is code 2), so that
# "one grade better" is a drop of one code. CSVs and screens show the grade ("1+"), not the code.
MAS_GRADES = ("0", "1", "1+", "2", "3", "4")
MAS_LABELS = (
    "No increase in muscle tone",
    "Slight increase in tone: a catch and release, or minimal resistance at the end of the "
    "range of motion",
    "Slight increase in tone: a catch, followed by minimal resistance through less than half "
    "of the range of motion",
    "More marked increase in tone through most of the range of motion, but the part is easily "
    "moved",
    "Considerable increase in tone; passive movement difficult",
    "Affected part rigid in flexion or extension",
)

MODIFIED_ASHWORTH = Instrument(
    key="modified-ashworth",
    name="Modified Ashworth Scale (MAS), clinician-rated",
    version="1987",
    description=(
        "Resistance to passive movement of the most affected lower-limb muscle group, rated by "
        "a clinician; grades 0, 1, 1+, 2, 3, 4. Rate the same muscle group at every visit."
    ),
    items=(
        Item(
            key="grade",
            text=(
                "Modified Ashworth grade of the most affected lower-limb muscle group "
                "(the same group at every visit)"
            ),
            kind=ItemKind.CHOICE,
            choices=tuple(
                Choice(code, f"{grade}: {label}")
                for code, (grade, label) in enumerate(zip(MAS_GRADES, MAS_LABELS, strict=True))
            ),
        ),
        Item(
            key="muscle",
            text="Muscle group rated (e.g. right hip adductors)",
            kind=ItemKind.TEXT,
            required=False,
            max_length=80,
        ),
    ),
    when=When.ANY,
    recall="at the examination",
    scoring=(
        "Grades 0, 1, 1+, 2, 3, 4 held as ordinal codes 0-5 (1+ is code 2). Lower is better. "
        "Less spasticity = at least one grade lower than at baseline (1+ to 1 counts)."
    ),
    source=(
        "Bohannon RW, Smith MB. Interrater reliability of a modified Ashworth scale of muscle "
        "spasticity. Phys Ther 1987;67:206-207 (grades and wording, paraphrased here); coding "
        "1+ as 2 of 0-5 as in the Rehabilitation Measures Database. The one-grade threshold is "
        "this project's choice: no minimal important change is established."
    ),
    licence=Licence(
        name="Published clinical scale (our understanding); wording paraphrased, Apache-2.0",
        holder="scale: Bohannon & Smith 1987; wording: this project",
        terms=(
            "A published clinical rating scale, widely used without a licence as far as we know; "
            "the grade descriptions here are paraphrased."
        ),
        url="https://www.apache.org/licenses/LICENSE-2.0",
        clinic_must_check=False,
    ),
)

PSFS_FREQUENCY = (
    "No spasms",
    "Mild spasms induced by stimulation",
    "Infrequent full spasms occurring less than once per hour",
    "Spasms occurring more than once per hour",
    "Spasms occurring more than 10 times per hour",
)

PENN_SPASM = Instrument(
    key="penn-spasm",
    name="Penn Spasm Frequency Scale (PSFS)",
    version="1989",
    description=(
        "How often spasms occur (0-4) and, if any, how severe they are (1-3); self-report."
    ),
    items=(
        Item(
            key="frequency",
            text="How often have you had muscle spasms?",
            kind=ItemKind.CHOICE,
            choices=tuple(Choice(code, label) for code, label in enumerate(PSFS_FREQUENCY)),
        ),
        Item(
            key="severity",
            text="If you have spasms: how severe are they? (leave blank if no spasms)",
            kind=ItemKind.CHOICE,
            choices=(Choice(1, "Mild"), Choice(2, "Moderate"), Choice(3, "Severe")),
            required=False,
        ),
    ),
    when=When.ANY,
    recall="usual spasms (no recall period is fixed by the scale)",
    scoring=(
        "Frequency 0 (no spasms) to 4 (more than 10 an hour); severity 1-3 only when frequency "
        "is above 0. Lower is better. Fewer spasms = frequency at least one category lower than "
        "at baseline."
    ),
    source=(
        "Penn RD, Savoy SM, Corcos D et al. Intrathecal baclofen for severe spinal spasticity. "
        "N Engl J Med 1989;320:1517-1521 (frequency scale); severity part as in the NINDS "
        "Common Data Elements (Spinal Cord Injury). The one-category threshold is this "
        "project's choice: no minimal important change is established."
    ),
    licence=Licence(
        name="Published clinical scale (our understanding); wording Apache-2.0",
        holder="scale: Penn et al. 1989; wording: this project",
        terms="A published self-report scale, used without a licence as far as we know.",
        url="https://www.apache.org/licenses/LICENSE-2.0",
        clinic_must_check=False,
    ),
)

INSTRUMENTS: dict[str, Instrument] = {
    i.key: i
    for i in (
        NRS_PAIN,
        PGIC,
        PERCENT_IMPROVEMENT,
        PROMIS_GLOBAL_10,
        SIDE_EFFECTS,
        MODIFIED_ASHWORTH,
        PENN_SPASM,
    )
}
# Asked of patients on intrathecal baclofen (spasticity), by the clinic's choice: the staff form
# offers them at every time point; a patient link never asks the clinician-rated MAS.
SPASTICITY_INSTRUMENTS = ("modified-ashworth", "penn-spasm")
CLINICIAN_RATED = frozenset({"modified-ashworth"})

BASELINE_INSTRUMENTS = ("nrs-pain", "promis-global-10")
FOLLOW_UP_INSTRUMENTS = (
    "nrs-pain",
    "pgic",
    "percent-improvement",
    "promis-global-10",
    "side-effects",
)
