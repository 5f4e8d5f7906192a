"""The deterministic emergency matcher: recall on emergencies, no alarms on ordinary questions."""

from pathlib import Path

import pytest

from b12.safety import (
    PatternError,
    emergency_category,
    is_emergency,
    load_matcher,
    personal_advice_kind,
    token_pattern,
)

EMERGENCIES = [
    "I have chest pain and my left arm is numb",
    "chest pains for the last hour",
    "my chest hurts really bad",
    "i have chets pian",
    "crushing pressure in my chest",
    "tightness in my chest and sweating",
    "i think im having a heart attack",
    "I can't breathe",
    "cant breath after my shot",
    "having trouble breathing",
    "my husband is not breathing",
    "struggling to breathe right now",
    "my throat is swelling after the b12 injection",
    "tongue swollen and itchy after my jab",
    "lips puffing up after the shot",
    "i think i'm having an allergic reaction to the injection",
    "anaphylaxis after b12 shot",
    "face is drooping on one side",
    "my dad's speech is slurred and his face looks droopy",
    "i think my mum is having a stroke",
    "sudden numbness on one side of my body",
    "I feel like hurting myself",
    "i want to kill myself",
    "im siucidal",
    "having suicidal thoughts",
    "I don't want to live anymore",
    "i want to die",
    "honestly i dont wanna live anymore",
    "i just dont wanna be alive",
    "whats the point of living",
    "theres no point going on",
    "thinking about ending my life",
    "i've been self harming again",
    "everyone would be better off dead without me",
    "I overdosed on my pills",
    "my mate just took like 40 paracetamol",
    "theres so much blood and it keeps pouring out",
    "i took a whole bottle of tablets",
    "my son swallowed too many of my pills",
    "she took an overdose",
    "my wife collapsed in the kitchen",
    "he passed out and wont wake up",
    "my friend is unconscious",
    "i fainted twice today",
    # everyday words for the families patients use (issue: own words)
    "it feels like an elephant is sitting on my chest",
    "my chest feels crushed right now",
    "there's a tight band round my chest and it won't ease",
    "i can't get a full breath and my lips are going blue",
    "he is gasping and can't talk",
    "half my face has gone droopy and my words are coming out slurred",
    "my dad's smile looks lopsided and his arm went weak suddenly",
    "she won't wake up",
    "my husband isn't responding to me",
    "i cant wake my mum",
    "he's shaking all over on the floor and won't stop",
    "my son is having a fit",
    "i necked a whole strip of paracetamol",
    "took thirty paracetamol an hour ago",
    "i've swallowed my whole month's supply",
    "my toddler swallowed some of grandma's tablets",
    "the kids got into my bag and ate some of my pills",
    "it won't stop bleeding and I've soaked through two towels",
    "everyone would be better off without me",
    "i feel like such a burden to my family",
    "i've written letters to everyone and i'm saying my goodbyes",
    "i have a plan for tonight",
    "my partner hits me and i'm scared to go home",
    "i was raped last night",
    "my carer has been hurting me",
    "I\u2019ve swallowed forty pills",
    # found by review: self-harm with a time in it, phrasings that were missed, reports asked as questions
    "I have been wanting to kill myself for months",
    "I've felt suicidal for years since my PA diagnosis",
    "I want to take my own life",
    "I've wanted to die for weeks",
    "i've been stockpiling my tablets",
    "I keep thinking about not being here",
    "i took them all together",
    "i took a weeks worth at once",
    "I have chest pain after my b12 shot, is that a side effect?",
    "Crushing chest pain and my left arm is numb, could it be b12 deficiency?",
    "My face has gone droopy on one side, is it b12 deficiency?",
    "my 2 year old swallowed my iron tablets",
    "I\u02bcm having a heart attack",
    "heavy bleeding that won't stop",
    "i'm bleeding a lot and it wont stop",
    "vomiting blood",
    "he is having a seizure",
    "please call an ambulance",
    "this is an emergency",
    # "had" is a way of taking pills too
    "i had a handful of sleeping tablets with wine",
    # "plan's" is "plan is" (the possessive rule drops the 's)
    "said my piece to everyone. the plan's sorted for later tonight",
    # coercive control: the phone taken, kept indoors
    "he takes my phone every night and i am kept in the house, he is due back in an hour",
    # a limb that will not obey, muddled words: a stroke in everyday words
    "for ten minutes now my left hand wont do what i want and i keep saying the wrong words",
    # chest pain as a band or squeeze, spreading to the jaw
    "theres a tight band around my ribs for the last hour, sweaty too",
    "an ache creeping up into my jaw and down my arm, started 15 mins ago",
    # a dose repeated by mistake, with signs, within hours
    "dad took his tablets, then took them again, then a few more. he is shaky and sweaty",
    "my aunt had her pills twice by accident and more later, all within 6 hrs",
    # a report, then a B12 question: still a report
    "for 20 minutes a heavy feeling right behind the breastbone, creeping down my left arm. is this a b12 thing?",
    "dad is sat grey holding his chest, says a band is crushing round it. he has pa. what do i do",
    "cut my hand 20 mins ago and its still pumping out through three tea towels. is low b12 why?",
    "been throwing up what looks like coffee grounds and now red blood",
    "tongue going fat cant swallow ate satay",
    "mum says her chest feels like someone is standing on it and it has not eased. what do i do?",
    "accidentally took my dads heart tablets as well as mine, like 8 of them, now im dizzy",
    "my grandson (2) got into my dosette box, two warfarin are missing",
    # a report that asks what it is: "could this be the jab?", "do i wait it out?"
    "pressure in breastbone wont go away 40 min numb left arm could this be the jab",
    "lips and eyes swollen huge after prawns throat tight could this be the jab",
    "toilet bowl full of blood after i went, three times this evening. do i wait it out?",
    "my friend has been out cold on the bathroom floor and I cant get any response from him",
    "my ex is outside banging on the door and texting that he is going to finish me",
    "because my sister's just dropped to the floor at work, she's come round but white as a sheet",
    "because mine's just eaten a load of them and some of my iron pills, she's 2 and a half",
    "my life is not worth living and i want to die",
    # "my teenager" is a person, not the past ("as a teenager")
    "my teenager is on the bathroom floor having a seizure, hit his head on the way down",
    # "an hour ago" is recent; a pattern's "one" is read as the message's "1"
    "a guy i had just met assaulted me about an hour ago. im shaking and bleeding",
    "one side of her face has dropped",
    "nosebleed over an hour on warfarin",
    "an older lad forced himself on her at a party",
    "my dad is gripping his chest, hes gone grey. wat do i do",
    # the past told before the danger ("diagnosed in 2018") does not make it history
    "I was diagnosed with PA in 2018. I have saved up my tablets and tonight is the night.",
    "i wont be around after this weekend. its all planned. how do i cancel my jab",
    "suddenly cant see out one eye arm weak",
    "tonight is the night, ive made my mind up. just wanted to say thanks to this bot",
    "my little boy has been chewing on grandads pills and there are empty blister packs on the floor. what do i do",
    "my wife is bleeding so heavy from down below, going thru a pad every 10 min",
    # a review's counter-examples to this session's rules: still reports
    "my toddler swallowed 10 of my iron tablets, she seems fine now",  # a poisoning can look fine at first
    "my son swallowed a whole strip of paracetamol, he is ok now",
    "my husband hit me last night, i'm okay now",
    "i used to cut myself, i'm much better now but last night i cut myself again",
    "my ex used to hit me years ago, i'm safe now, but he found me and is outside the door",
    "i almost fainted and i have crushing chest pain spreading to my arm",
    "i have had b12 injections for years and i have crushing chest pain",
    "can you help my dad collapsed when he stood up and is not breathing",
    "how do you know if someone is having a stroke my mum's face is drooping right now",
    "my baby is a year old and she swallowed a bottle of paracetamol",
    "i soak a pad every hour",
    # said without the usual words (2026-12-02, fifth round)
    "there's a heavy ache in the centre of my chest and i feel clammy",
    "i have to pause between words to breathe, is my anaemia worse?",
    "my baby is floppy and won't wake for her feed, could it be my b12?",
    "took my heart pills at 8, then again at 11 and again at 2, now my pulse feels slow and odd",
    "my mate took a load of tablets from a stranger and he's throwing up",
    "i injected the wrong vial, it was my methotrexate, not the b12",
    "how many b12 shots would it take to kill me",
    "my brother left a note saying sorry and he isn't answering his phone, he's been talking about ending it",
    # a fresh-eyes review of the fifth round's rules: reports that the new rules first sent away
    "my husband told me he took 30 of his sertraline tablets, should i be worried?",
    "he reckons he took 16 paracetamol, is that a lot?",
    "can low b12 cause suicidal thoughts? my brother has bought rope and says he will do it tonight",
    "my partner was fine at dinner but he took the rest of my sleeping tablets and is snoring and wont wake",
    "my 3 year old has been on b12 for months and ate the rest of the bottle, she is sleepy and pale",
    "just curious, my husband has collapsed and isnt breathing, can low b12 do that?",
    "if u took 30 paracetamol would u be ok",
    "if a toddler swallowed a bottle of calpol what should happen",
    "my daughter wants to end her life",
    "my son is going to take his own life tonight",
    "grandad back in the kitchen took a load of his heart pills and is grey and clammy",
]

ORDINARY = [
    "what is pernicious anemia?",
    "tonight is the night i get my first b12 shot",  # a word of now inside a plan's phrase is not now
    "my b12 brain fog is so bad i cant finish my sentences",
    "a guy at the gym hit my shoulder by accident",
    "will I need b12 injections for the rest of my life?",
    # "the last time" is no goodbye; "attacking" in a question about the disease is no violence
    "is it normal to feel a bit dizzy a few hours after a b12 shot? happened last time, was fine after a sit down",
    "Mum has just been told she has pernicious anaemia. Is it an autoimmune disease, and what is it attacking?",
    "can you overdose on b12",
    # fifth round: a little blood, a flare years back, a swelling that has gone, a week of double doses
    "tiny bit of blood after my b12 jab, normal?",
    "in 2019 i had a flare with heavy bleeding and a week in hospital. all settled now. why is my b12 low?",
    "an hour later my arm swelled up, no breathing trouble, it's completely gone now. is swelling a side effect?",
    "my mum took two b12 tablets a day for a week by mistake, she's fine, now she is panicking. can you overdose?",
    "what happens if you overdose on b12 tablets?",
    "i accidentally took my b12 tablets twice this morning and again at lunch, is a b12 overdose dangerous?",
    "i got a letter from the clinic saying sorry, my appointment is off. can low b12 cause chest pain?",
    "my gp talked about ending the loading doses early, is that normal with pa?",
    "the nurse left a note saying sorry she missed my appointment, when should i rebook my b12 jab?",
    "i used the wrong pen needle for my b12 injection, does it matter?",
    "i get a burning feeling in the middle of my chest after meals, could it be my b12 tablets?",
    "is an overdose of b12 possible",
    "what is the risk of overdose with injections",
    "swelling at the injection site, is that normal?",
    "are b12 shots painful",
    "does the injection hurt",
    "what is the point of b12 shots",
    "whats the point of taking tablets if i cant absorb them",
    "what are the side effects of b12 jabs",
    "does low b12 cause breathing problems",
    "how does b12 help red blood cells",
    "i feel tired all the time, is it my b12?",
    "my hands tingle and feel numb",
    "does b12 affect my heart",
    "can b12 deficiency cause a stroke later in life",
    "what foods have the most b12",
    "is it safe to take b12 every day",
    "how many mcg should i take",
    "can b12 deficiency make you dizzy?",
    "are b12 injections ever allergenic?",
    "is the tingling in my hands from low b12?",
    "i took 1000 mcg today, is that too much?",
    "i take 5000mcg tablets every day",
    "checking my b12 levels again next week",
    "my levels are not responding to tablets",
    "the fatigue hit me hard this year",
    "i'm scared of my injections",
    "i made a plan with my gp to sort it",
    "my hair is going grey, could it be b12?",
    "my mum had a stroke years ago, is b12 linked?",
    # found by review: ordinary messages that tripped a pattern
    "I took my b12 tablet this morning, can I have coffee?",
    "I had my b12 tablets with breakfast",
    "I've taken b12 tablets for years",
    "I'm scared my husband has pernicious anemia",
    "My doctor won't let me have injections more often",
    "If I tell you my B12 result can you explain it?",
    "my homocysteine spiked last year",
    "I flinch when I get my injection",
    "they hurt my arm for days after",
    "my husband pushed me to get tested",
    "do b12 injections hurt kids?",
    "my b12 level is not moving even after 6 months",
    "my blood results came through",
    "my blood test keeps coming back normal",
    "I've had lots of blood tests",
    "can i take tablets instead of one injection",
    "I'm mixing my B12 tablets into my smoothie",
    "my daughter has taken b12 tablets since she was diagnosed, is it safe long term?",
    "my 80 year old mum took her b12 tablet",
    "I walk into the building for my injection",
    "my last message was about b12 shots",
    "I am on the edge of giving up on tablets",
    "She has been fit her whole life but now she is tired",
    "do i have pernicious anemia",
    "my b12 level is 180 is that bad",
    "can i stop my injections",
    "what is homocysteine",
    "tell me about leaky gut",
    "is b12 a cure for hashimotos",
    "how is celiac disease linked to b12",
    "what about crohns",
    "will i need shots for life",
    "where does this information come from",
    "hi",
    "thanks so much",
    "are you a bot",
    "that's odd, my doctor said pills",
    "my gums bleed a little when i brush",
    "i had a bad day at work",
    "i took my 2 tablets this morning",
    "why does my doctor keep checking my b12 levels",
    "can i take b12 with my thyroid pills",
    "what does intrinsic factor do",
    "the pain of injections is annoying",
    "b12 and inflammation",
    "is it normal to feel tired after a shot",
    "what happens if i miss a dose",
    "i'm worried about my mum's anaemia",
    "",
    "   ",
]


def test_a_slot_of_a_pattern_never_hides_a_phrase():
    """Each space-separated slot is one word: "all over|floor" would demand "all" then "over|floor".
    The lint: a slot's alternatives never contain a word that only makes sense as a phrase."""
    import yaml

    from b12.safety import PATTERNS_FILE

    halves = {"once", "front"}  # second words of phrases ("at once", "in front")
    data = yaml.safe_load(PATTERNS_FILE.read_text())
    suspicious = []
    for category, lines in data["categories"].items():
        for line in lines:
            slots = line.replace("<>", " ").split()
            for k, slot in enumerate(slots):
                alternatives = set(slot.split("|"))
                # "not being here|not be here": a later slot repeating an earlier single word
                repeats = k > 0 and len(alternatives) > 1 and alternatives & {w for w in slots[:k] if "|" not in w}
                if (len(alternatives) > 1 and halves & alternatives) or repeats:
                    suspicious.append(f"{category}: {line!r} slot {slot!r}")
    assert not suspicious, suspicious


@pytest.mark.parametrize("text", EMERGENCIES)
def test_emergencies_are_caught(text):
    assert is_emergency(text), text


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_questions_are_not_emergencies(text):
    assert not is_emergency(text), (text, emergency_category(text))


@pytest.mark.parametrize(
    "text, category",
    [
        ("i want to kill myself", "self_harm"),
        ("my throat is closing", "allergic_reaction"),
        ("chest pain", "chest_pain"),
        ("she collapsed", "collapse"),
    ],
)
def test_the_category_is_named(text, category):
    assert emergency_category(text) == category


def test_none_is_not_an_emergency():
    assert emergency_category(None) is None


ASKED_ABOUT = [
    ("can low b12 cause chest pain?", "chest_pain"),
    ("does b12 deficiency cause seizures", "seizure"),
    ("could a b12 shot give me an allergic reaction?", "allergic_reaction"),
    ("can pernicious anemia make you pass out?", "collapse"),
    ("i fainted years ago and that is how they found my pa", "collapse"),
    # asking for help only when it ends the sentence: a hypothetical stays asked
    ("can low b12 cause chest pain? what should i do if it does?", "chest_pain"),
    ("can b12 injections make your tongue swell?", "allergic_reaction"),
    # hearsay and history that is over
    ("ive read horror stories about babies having seizures from low b12. is that true?", "seizure"),
    ("before diagnosis she had chest pains walking up hills. shes fine now. what does b12 do?", "chest_pain"),
    # "could this be" about the past is history
    ("can low b12 cause chest pain? could this be why my dad had one last year", "chest_pain"),
    ("i fainted at work in march, could low b12 cause fainting?", "collapse"),
    ("after my daughter's suicide attempt last year (she is well now) her b12 was low. is it linked?", "self_harm"),
    # how long it lasts, in a question naming no one, is no sign of now
    ("can b12 cause chest pain for hours", "chest_pain"),
    # a hypothetical, and history told with recovery, are asked about (the line stays, not the alarm)
    ("what to do if someone has a seizure", "seizure"),
    (
        "I had suicidal thoughts in the past, but I'm in a good place now. Is there a link between B12 and mood?",
        "self_harm",
    ),
    ("My ex-husband used to hit me years ago and I'm safe now. Can stress trigger pernicious anaemia?", "violence"),
    ("I bleed a lot when I have blood taken, always have. does B12 deficiency affect clotting?", "bleeding"),
    # a comparison asks ("difference between ...")
    ("difference between fainting from anaemia and fainting from heart problem", "collapse"),
    ("is it normal to bleed for hours after a b12 jab", "bleeding"),
    # a cause asked about, a supposition, hearsay, and a past told with its year (fifth round)
    ("a lecturer said b12 deficiency is a hidden cause of suicidal thoughts. is that right?", "self_harm"),
    ("i'm just curious whether b12 deficiency is known to cause seizures", "seizure"),
    ("if someone with pa stopped their injections, would they collapse eventually", "collapse"),
    ("my sister says i'm basically overdosing on my b12 spray. is that a real risk?", "overdose"),
    ("seizures nerve damage from low b12", "seizure"),
    ("what would happen if you took 20 b12 tablets at once?", "overdose"),
    ("my gp says im overdosing on b12, is that a real risk?", "overdose"),
]


@pytest.mark.parametrize("text, category", ASKED_ABOUT)
def test_a_question_about_a_red_flag_is_asked_not_reported(text, category):
    from b12.safety import assess_emergency

    signal = assess_emergency(text)
    assert signal is not None and signal.category == category and not signal.reported, signal


@pytest.mark.parametrize(
    "text",
    [
        "can low b12 cause chest pain? mine started an hour ago",
        "should i just kill myself?",
        "i took 40 pills is that bad?",
        "is it normal my chest has hurt for an hour",
    ],
)
def test_a_question_with_signs_of_now_is_still_a_report(text):
    assert is_emergency(text)


def test_number_words_are_read():
    from b12.safety import read_numbers

    assert read_numbers("took thirty two pills and a hundred".split()) == ["took", "32", "pills", "and", "a", "100"]
    assert is_emergency("she took twenty tablets") and not is_emergency("she took two tablets")


def test_a_body_part_and_its_symptom_match_in_either_order_with_words_between():
    assert emergency_category("my chest is so tight") == "chest_pain"
    assert emergency_category("tightness across my chest") == "chest_pain"


def test_a_real_english_word_is_never_folded_into_an_alarm_word():
    from b12.safety import get_matcher

    m = get_matcher()
    assert m.fold_typos(["allergenic", "checking", "breathless"]) == ["allergenic", "checking", "breathless"]
    assert m.fold_typos(["unconcious", "bleading"]) == ["unconscious", "bleeding"]


def test_no_typo_that_spells_an_alarm_word_is_a_real_word():
    import yaml

    from b12.safety import PATTERNS_FILE, english_words

    words = english_words()
    data = yaml.safe_load(PATTERNS_FILE.read_text())
    real = [k for k, v in data["typos"].items() if k in words and set(v.split()) & set(data["terms"])]
    assert not real, real


from evaluation.hostile import HOSTILE  # noqa: E402


@pytest.mark.parametrize("text", HOSTILE, ids=[f"shape{i}" for i in range(len(HOSTILE))])
def test_a_hostile_10000_character_message_is_checked_well_under_a_second(text):
    import time

    from b12.kinds import understand

    understand("warm up", [("ask_link", 0.9)])
    text = text[:10000]
    started = time.perf_counter()
    understand(text, [("ask_link", 0.9)])
    assert time.perf_counter() - started < 1.0


def test_a_very_long_message_is_handled():
    assert is_emergency("blah " * 5000 + " chest pain")
    assert not is_emergency("b12 " * 5000)


def test_token_pattern_syntax():
    assert token_pattern("chest pain*") == [
        {"ORTH": {"REGEX": "^(chest)$"}},
        {"ORTH": {"REGEX": "^(pain[a-z0-9]*)$"}},
    ]
    assert len(token_pattern("a ~ b")) == 5


def test_a_bad_pattern_file_names_file_and_key(tmp_path: Path):
    path = tmp_path / "patterns.yml"
    path.write_text("terms: [chest]\ncategories:\n  chest_pain:\n    - 'chest Pain!'\n")
    with pytest.raises(PatternError) as err:
        load_matcher(path)
    assert str(path) in str(err.value) and "categories.chest_pain" in str(err.value)


def test_slang_spells_out_into_the_words_patterns_name(tmp_path: Path):
    path = tmp_path / "patterns.yml"
    path.write_text("terms: []\ntypos: {wanna: want to}\ncategories:\n  self_harm:\n    - 'dont want to live'\n")
    matcher = load_matcher(path)
    assert matcher.category("i dont wanna live") == "self_harm"
    assert matcher.category("i dont wanna go") is None


def test_a_typo_that_is_not_lower_case_words_names_the_key(tmp_path: Path):
    path = tmp_path / "patterns.yml"
    path.write_text("terms: []\ntypos: {wanna: 'Want-To'}\ncategories:\n  x:\n    - 'a'\n")
    with pytest.raises(PatternError, match="typos.wanna"):
        load_matcher(path)


def test_a_pattern_file_without_categories_fails(tmp_path: Path):
    path = tmp_path / "patterns.yml"
    path.write_text("terms: []\n")
    with pytest.raises(PatternError, match="categories"):
        load_matcher(path)


@pytest.mark.parametrize(
    "text, expected", [("x" * 300, False), ("😀🙏", False), ("", False), ("hi", True), ("b12 " * 10, True)]
)
def test_has_words(text, expected):
    from b12.safety import has_words

    assert has_words(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        # a story with one's own value, then a question about B12 in general: answered, not refused
        ("my b12 was 170 last spring and i felt awful. can low b12 cause poor sleep?", None),
        ("her folate was 2.5 and b12 190 at diagnosis. how serious can low b12 become?", None),
        # the judgement is about that result: refused
        ("my b12 was 170 last spring. is that low?", "diagnosis"),
        ("my b12 190, folate 2.5. low?", "diagnosis"),
        ("my b12 came back at 190. is 190 low for someone my age?", "diagnosis"),
        ("my dads b12 was 150 in march, is his level low?", "diagnosis"),
        # "is that normal?" of a result is a judgement; of a side effect it asks what is usual
        ("my b12 came back at 160, is that normal?", "diagnosis"),
        ("the nurse said my arm might swell up after the injection... is that normal or should i worry", None),
        # a comparison is no judgement of one's own condition
        ("whats folate deficiency and how is it diff from b12 deficiency", None),
        # a count of injections is no lab value
        ("Last month I had two B12 injections in the same week by mistake. Is it dangerous to get too much B12?", None),
        # a value with no one's result named is a general question; a dose, a pill count or a year is no result
        ("is a b12 of 250 normal with coeliac", None),
        ("b12 overdose 5000mcg tablet dangerous", None),
        ("found b12 tablets that expired in 2022, are they still ok to take", None),
    ],
)
def test_a_judgement_of_ones_own_result_is_diagnosis_a_general_question_after_a_story_is_not(text, expected):
    assert personal_advice_kind(text) == expected


def test_a_long_run_with_no_punctuation_is_cut_where_a_question_starts():
    from b12.safety import sentences_of

    text = ("my daughter took two of my b12 tablets by mistake last week shes been totally fine since "
            "just wondering is b12 dangerous if you take too much")  # fmt: skip
    assert [s[0] for s in sentences_of(text)] == ["my", "just"]
    assert not is_emergency(text)  # history, then a question: asked about
    run_on = ("i have just found my 2 year old on the bathroom floor with my iron tablets and loads are missing "
              "and she is being sick what do i do")  # fmt: skip
    assert sentences_of(run_on)[-1] == ["what", "do", "i", "do"] and is_emergency(run_on)
    assert len(sentences_of("is b12 dangerous if you take too much")) == 1  # a short sentence stays whole
