from studies.advice import ROUTINE, SOON, urgency_for


def probabilities(**values):
    base = dict.fromkeys(("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"), 0.0)
    base.update(values)
    return base


def test_a_cancer_type_first_is_urgent():
    assert urgency_for(probabilities(mel=0.5, nv=0.4, bkl=0.1)).level == SOON
    assert urgency_for(probabilities(bcc=0.4, nv=0.3, bkl=0.3)).level == SOON


def test_a_benign_type_first_is_routine_when_cancer_types_are_unlikely():
    routine = urgency_for(probabilities(nv=0.8, mel=0.1, bkl=0.1))
    assert routine.level == ROUTINE
    assert "monitor" in routine.advice


def test_cancer_types_together_make_it_urgent_even_when_a_benign_type_comes_first():
    assert urgency_for(probabilities(nv=0.6, mel=0.2, bcc=0.1, bkl=0.1)).level == SOON


def test_an_unknown_class_is_urgent():
    assert urgency_for({"something-new": 1.0}).level == SOON
