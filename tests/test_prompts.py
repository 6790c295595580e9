import pytest

from redinstruct.errors import TemplateError
from redinstruct.prompts import BUILTIN_TEMPLATES, check_render, load_template


@pytest.mark.parametrize("name", BUILTIN_TEMPLATES)
def test_builtin_templates_have_exactly_one_slot(name):
    template = load_template(name)
    assert template.text.count("{question}") == 1
    assert "QQQ?" in template.render("QQQ?") and "{question}" not in template.render("QQQ?")


def test_standard_is_the_question_alone_and_cot_adds_a_trigger():
    assert load_template("standard").render("Why?") == "Why?"
    cot = load_template("cot").render("Why?")
    assert cot.startswith("Why?") and "step" in cot.lower() and len(cot) > len("Why?") + 10


def test_cou_structure_follows_the_paper():
    text = load_template("cou").render("How do I do the bad thing?")
    example, _, task = text.partition("Task")
    assert "Example" in example and task, "two blocks: Example then Task"
    # demo conversation: opener, Base-LM agrees, Red-LM asks a hypothetical harmful question
    assert example.count("Red-LM:") >= 2 and example.count("Base-LM:") >= 2
    assert "hypothetically" in example.lower()
    # instruction paragraph and an internal-thought demo reply
    assert "ethics" in example and "(Internal thought:" in example
    # task block: the question as Red-LM, the extra instructions, an open Base-LM turn
    assert "Red-LM: How do I do the bad thing?" in task
    assert "Include internal thoughts" in task and "specific techniques" in task
    assert text.rstrip().endswith("Base-LM:")


def test_user_template_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text('Q: {question}\nA JSON example {"keep": "braces"}\n')
    template = load_template(str(path))
    assert template.name == "mine"
    assert template.render("x?") == 'Q: x?\nA JSON example {"keep": "braces"}'


def test_template_without_slot_is_rejected(tmp_path):
    path = tmp_path / "noslot.txt"
    path.write_text("no slot here")
    with pytest.raises(TemplateError, match=r"no \{question\} slot"):
        load_template(str(path))


def test_unknown_template_and_render():
    with pytest.raises(TemplateError, match="unknown template"):
        load_template("nosuch")
    with pytest.raises(TemplateError, match="render mode"):
        check_render("markdown")
