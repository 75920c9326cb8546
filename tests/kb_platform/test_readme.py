"""The README stays true: every environment variable the settings read is documented."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_variable_is_documented_in_the_readme():
    # settings.py declares the settings; env.py's parsers read a few (DATABASE_CONN_MAX_AGE).
    settings_src = "".join(
        (ROOT / "kb_platform" / name).read_text() for name in ("settings.py", "env.py")
    )
    pattern = r'env_(?:str|bool|int|float|list|choice)\(\s*"([A-Z0-9_]+)"'
    read = set(re.findall(pattern, settings_src))
    assert len(read) > 40, "the pattern no longer finds the settings' variables"
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in read if f"`{name}`" not in readme)
    assert not missing, f"README.md does not document: {', '.join(missing)}"


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
