"""The project's YAML files (the runs file, the dataset registry) read for a user who edits them by
hand: every problem a clear :class:`~analysis_lib.core.errors.ParameterError` naming the file, the
place and the fix, never a parser's traceback.

Beyond safe loading it refuses a key given twice in one mapping (a second ``seed:`` or a dataset
registered twice would otherwise silently replace the first).

Examples
--------
>>> read_yaml_text("a: 1\\nb: [2, 3]\\n", "example.yaml")
{'a': 1, 'b': [2, 3]}
>>> read_yaml_text("a: 1\\na: 2\\n", "example.yaml")
Traceback (most recent call last):
...
analysis_lib.core.errors.ParameterError: example.yaml: key 'a' is given twice (line 2); keep one of them
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import ParameterError, yaml_problem

__all__ = ["read_yaml", "read_yaml_text"]


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that gives a key twice."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key, line):
        super().__init__(key, line)
        self.key, self.line = key, line


def read_yaml_text(text: str, where: str):
    """The YAML document ``text`` (from ``where``, for messages)."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except _DuplicateKey as exc:
        raise ParameterError(f"{where}: key {exc.key!r} is given twice (line {exc.line}); keep one of them") from None
    except yaml.YAMLError as exc:
        raise ParameterError(f"{where} is not valid YAML ({yaml_problem(exc)}); fix the syntax there") from None


def read_yaml(path, what: str, fix: str):
    """The YAML file ``path`` (``what`` it is, e.g. "runs file"); a clear error when it cannot be read
    (``fix``: what to do then), is not UTF-8 text or not valid YAML."""
    path = Path(path)
    where = f"{what} {str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ParameterError(f"{where} cannot be read ({exc.strerror or exc}); {fix}") from None
    return read_yaml_text(text, where)
