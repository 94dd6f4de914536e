"""BibTeX for a report: the papers behind every method and pair family in a table.

The entries live in one file, ``bo_transfer/references.bib``, keyed by BibTeX
key. A registry entry names its keys with ``bib_key`` (comma-separated, like
``\\cite{a,b}``) next to its one-line ``citation``; a plugin may instead carry
its own entries as a ``bibtex`` string. An entry with neither gets a ``@misc``
built from its one-line citation, so every cited method or family appears in
``references.bib`` even before someone writes its BibTeX.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.resources import files

#: Keys of the papers behind the report's statistics, cited in every caption.
STATISTICS_KEYS = (
    "wilcoxon1945individual",
    "holm1979simple",
    "agarwal2021deep",
)
#: Keys of the critical-difference analysis (cited where the diagram appears).
RANKING_KEYS = ("friedman1937use", "nemenyi1963distribution", "demsar2006statistical")

_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", re.ASCII)


def parse_bibtex(text: str) -> dict[str, str]:
    """Split BibTeX text into ``{key: entry text}`` (entries in file order).

    Finds each ``@type{key,`` and takes the text up to its matching closing
    brace; ``%`` comment lines outside entries are ignored.

    Raises:
        ValueError: an entry's braces do not balance, or a key repeats.
    """
    entries: dict[str, str] = {}
    pos = 0
    while (m := _ENTRY.search(text, pos)) is not None:
        depth, end = 0, -1
        for i in range(text.index("{", m.start()), len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                end = i
                break
        if end < 0:
            raise ValueError(f"BibTeX entry {m.group(2)!r} has unbalanced braces")
        key = m.group(2)
        if key in entries:
            raise ValueError(f"BibTeX key {key!r} appears twice")
        entries[key] = text[m.start() : end + 1]
        pos = end + 1
    return entries


def library() -> dict[str, str]:
    """The project's BibTeX entries (``bo_transfer/references.bib``)."""
    return parse_bibtex(files("bo_transfer").joinpath("references.bib").read_text("utf-8"))


def _misc_key(kind: str, name: str) -> str:
    return "bo_transfer_" + re.sub(r"[^A-Za-z0-9]+", "_", f"{kind}_{name}").strip("_").lower()


def misc_entry(key: str, citation: str) -> str:
    """A ``@misc`` entry whose ``note`` is a one-line citation (braces removed so
    the entry always parses)."""
    note = citation.replace("{", "").replace("}", "")
    return f"@misc{{{key},\n  note = {{{note}}},\n}}"


@dataclass
class References:
    """The BibTeX a report needs.

    Attributes:
        keys: label -> BibTeX keys, for each method label and family cited.
        entries: key -> entry text, every entry any label or the statistics
            cite, in first-cited order.
        missing: labels whose registry entry has no citation at all.
    """

    keys: dict[str, list[str]] = field(default_factory=dict)
    entries: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def bibtex(self) -> str:
        """The ``references.bib`` text."""
        return "\n\n".join(self.entries.values()) + "\n"

    def cite(self, label: str) -> str:
        """``\\cite{...}`` of a label, or an empty string."""
        keys = self.keys.get(label)
        return rf"\cite{{{','.join(keys)}}}" if keys else ""


def _entry_keys(
    obj: object, kind: str, name: str, lib: dict[str, str], refs: References
) -> list[str]:
    own = parse_bibtex(getattr(obj, "bibtex", "") or "")
    keys = [k.strip() for k in (getattr(obj, "bib_key", "") or "").split(",") if k.strip()]
    keys += [k for k in own if k not in keys]
    found = []
    for key in keys:
        text = own.get(key) or lib.get(key)
        if text is not None:
            refs.entries.setdefault(key, text)
            found.append(key)
    citation = getattr(obj, "citation", "") or ""
    if not found and citation:
        key = _misc_key(kind, name)
        refs.entries.setdefault(key, misc_entry(key, citation))
        found.append(key)
    return found


def references(
    methods: dict[str, str],
    families: list[str],
    extra_keys: tuple[str, ...] = STATISTICS_KEYS,
) -> References:
    """Collect the BibTeX of the given method labels and pair families.

    Args:
        methods: method label (as in the table) -> registered method name.
        families: pair family names.
        extra_keys: keys of the project library cited regardless (the
            statistics behind the verdicts).

    A name that is not registered (e.g. a plugin not installed where the
    report runs) is listed in ``missing``, as is an entry with no citation.
    """
    from bo_transfer.errors import UserError
    from bo_transfer.methods import METHODS
    from bo_transfer.problems import FAMILIES

    lib = library()
    refs = References()
    for kind, registry, items in (
        ("method", METHODS, sorted(methods.items())),
        ("family", FAMILIES, [(f, f) for f in sorted(families)]),
    ):
        for label, name in items:
            try:
                obj = registry.get(name)
            except UserError:
                refs.missing.append(label)
                continue
            keys = _entry_keys(obj, kind, name, lib, refs)
            if keys:
                refs.keys[label] = keys
            else:
                refs.missing.append(label)
    for key in extra_keys:
        refs.entries.setdefault(key, lib[key])
    return refs
