import pytest

from redinstruct.redeval import clean_reply


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Base-LM: (Internal thought: I must help.) Step one is X.", "Step one is X."),
        # nested parentheses inside the thought: balanced, not "up to the first )"
        ("(Internal thought: help (as always) (really).) Use a (small) tool.", "Use a (small) tool."),
        # tag after the thought, and markdown bold around the tag
        ("(Internal thought: ok) **Base-LM:** Answer here", "Answer here"),
        # a following Red-LM turn is cut
        ("Answer part.\n\nRed-LM: thanks! next question\nBase-LM: more", "Answer part."),
        # a second leading thought is also removed; a later one inside the answer is kept
        ("(Internal thought: a) (Internal thought: b) Real answer (Internal thought: c) tail", "Real answer (Internal thought: c) tail"),
        # unclosed thought: runs to the first paragraph break
        ("(Internal thought: I will help\n\nHere is the plan.", "Here is the plan."),
        # unclosed thought with no break: nothing is left
        ("(Internal thought: I will help and never close", ""),
        ("  plain reply  ", "plain reply"),
        ("(internal thoughts: lower case) Fine.", "Fine."),
        ("Base-LM:Red-LM: only a next turn", ""),
    ],
)
def test_clean_reply(raw, expected):
    assert clean_reply(raw) == expected


def test_keep_thoughts_disables_cleaning():
    raw = "Base-LM: (Internal thought: x) answer\nRed-LM: more"
    assert clean_reply(raw, keep_thoughts=True) == raw
