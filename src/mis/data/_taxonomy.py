"""The MIS taxonomy: 6 categories and 14 sub-category names, with the exact names of the paper.

The paper and the dataset card say "12 sub-categories" but list the 14 names below (MIS.md section 2);
the count here is the names as they are. Spellings that the paper or the release use for the same
sub-category are aliases (`ALIASES`): `normalise_labels` maps them to the canonical name on load and
says so. Any other name is matched exactly; a near miss (case, spacing) is reported with the closest
valid name so a typo in a dataset is caught instead of silently creating a new bucket.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType

#: category -> its sub-categories, in the paper's order (MIS.md section 2): 6 categories, 14 names.
TAXONOMY: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "Illegal Activity": (
            "Property Crimes",
            "Cybercrimes",
            "Drug-Related Offenses",
            "Human Trafficking",
        ),
        "Violent": (
            "Weapon-Related Violence",
            "Public Violence and Rioting",
            "Abuse and Physical Altercations",
        ),
        "Hate": ("Racial and Ethnic Discrimination", "Gender Discrimination"),
        "Self-Harm": ("Physical Self-Injury", "Psychological Harm"),
        "Privacy": ("Unauthorized Data Collection", "Identity Theft"),
        "Erotic": ("Erotic Visual Content",),
    }
)

CATEGORIES: tuple[str, ...] = tuple(TAXONOMY)
SUB_CATEGORIES: tuple[str, ...] = tuple(s for subs in TAXONOMY.values() for s in subs)
#: sub-category -> its category.
PARENT: Mapping[str, str] = MappingProxyType({s: c for c, subs in TAXONOMY.items() for s in subs})


#: Other spellings of a sub-category name -> the canonical name. "Abuse and Physical Alterations" is how
#: the paper's taxonomy table spells "Abuse and Physical Altercations" (the release's spelling).
ALIASES: Mapping[str, str] = MappingProxyType(
    {"Abuse and Physical Alterations": "Abuse and Physical Altercations"}
)


def normalise_labels(
    category: str | None, sub_category: str | None
) -> tuple[str | None, str | None, str | None]:
    """(category, sub_category) with a known alias replaced by its canonical name, and a note.

    The note (None when nothing changed) says which spelling was replaced, for the sample's metadata.
    """
    if sub_category is not None and sub_category in ALIASES:
        canonical = ALIASES[sub_category]
        return category, canonical, f"sub_category {sub_category!r} is an alias of {canonical!r}"
    return category, sub_category, None


def _suggest(name: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def category_problem(category: str | None, sub_category: str | None) -> str | None:
    """Return why (category, sub_category) is not a valid MIS label, or None when it is.

    Either may be None (unlabelled data, e.g. a general-ability set), but a given name must exist and
    a sub-category must belong to the given category.
    """
    if category is not None and category not in TAXONOMY:
        valid = ", ".join(CATEGORIES)
        return f"unknown category {category!r}{_suggest(category, CATEGORIES)}; valid: {valid}"
    if sub_category is not None:
        if sub_category not in PARENT:
            return f"unknown sub_category {sub_category!r}{_suggest(sub_category, SUB_CATEGORIES)}"
        if category is not None and PARENT[sub_category] != category:
            return (
                f"sub_category {sub_category!r} belongs to {PARENT[sub_category]!r}, not {category!r}"
            )
    return None
