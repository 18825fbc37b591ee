"""docs/api.md is generated from the code (scripts/make_api_docs.py) and must match it."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, load_script


@pytest.fixture(scope="module")
def api_docs():
    """The generator script loaded as a module (scripts/ is not a package)."""
    return load_script("make_api_docs")


def test_api_page_is_up_to_date(api_docs):
    committed = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    assert committed == api_docs.render(), "docs/api.md is out of date: run python3 scripts/make_api_docs.py"


def test_page_changes_when_a_signature_changes(api_docs):
    def explain(method: str, model: object, x: object, score: str = "logit") -> None:
        """Maps."""

    before = api_docs.document("pkg.explain", explain)

    def explain(method: str, model: object, x: object, score: str = "probability") -> None:  # noqa: F811
        """Maps."""

    assert api_docs.document("pkg.explain", explain) != before

    def explain(method: str, model: object, x: object, *, score: str = "logit") -> None:  # noqa: F811
        """Maps."""

    assert api_docs.document("pkg.explain", explain) != before
    assert "explain(method: str, model: object, x: object, score: str = 'logit') -> None" in before


def test_every_public_name_has_a_section(api_docs):
    import importlib

    page = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    for name, _ in api_docs.MODULES:
        module = importlib.import_module(name)
        for public in api_docs.public_names(module):
            assert f"### `{name}.{public}`" in page


def test_long_signatures_wrap_without_losing_text(api_docs):
    def f(first_argument: dict[str, tuple[int, int]] = {"a": (1, 2)}, second: str = "x, y", *rest: int,  # noqa: B006
          keyword_only: float = 1.5, **extra: object) -> list[int]:
        """Long."""

    import inspect

    wrapped = api_docs.signature_text(f, "f")
    assert wrapped.count("\n") == 6
    assert "".join(wrapped.replace(",\n)", ")").split()) == "".join(f"f{inspect.signature(f, eval_str=True)}".split())
