"""Isomorphic cells: a canonical form per architecture, computed from the cell's graph.

Two TSS cells are isomorphic when they compute the same function of their input for the
reasons NAS-Bench-201 accounts for: edges that carry ``none`` (or read a node that is exactly
zero) add nothing, ``skip_connect`` passes its input through, nodes that cannot reach the
output never matter, and a node's sum does not depend on the order of its inputs. The
canonical form writes the output node as an expression, built node by node from the input
(``0``): each incoming edge contributes a term — ``#`` for zero, the source node's expression
for a skip, ``(source)@op`` otherwise — and a node is its terms sorted and joined by ``+``.

This is exactly the equivalence of NAS-Bench-201 / NATS-Bench's
``Structure.to_unique_str(consider_zero=True)`` (``api.get_unique_str``), which gives the
published **6,466** classes over the 15,625 cells. It keeps that function's three literal
choices, each of which splits classes that compute the same function, never merges different
ones: zero terms stay in a sum as ``#``; a node is zero only when its expression is exactly
``#`` (a node fed by two zero edges, ``#+#``, is not treated as zero downstream); a skip
inserts its source's whole sum as one term (not flattened into the target's sum). So, e.g.,
swapping nodes 1 and 2 of a cell whose edge 1 → 2 is empty changes the form (node 2 keeps a
``#`` that node 1 never has). Dropping those three choices gives 4,930 classes of functionally
equal cells; weights are never shared between edges in NATS-Bench, so two equal expressions are
equal functions at any initialisation.
"""

from __future__ import annotations

from collections.abc import Iterable

from tfnas.space import EDGES, Arch

ZERO = "#"
INPUT = "0"


def canonical_form(arch: Arch) -> str:
    """The expression of ``arch``'s output node (see the module docstring)."""
    nodes = [INPUT]
    for target in (1, 2, 3):
        terms = []
        for op, (to, source) in zip(arch.ops, EDGES, strict=True):
            if to != target:
                continue
            if op == "none" or nodes[source] == ZERO:
                terms.append(ZERO)
            elif op == "skip_connect":
                terms.append(nodes[source])
            else:
                terms.append(f"({nodes[source]})@{op}")
        nodes.append("+".join(sorted(terms)))
    return nodes[3]


def canonical_forms(archs: Iterable[Arch]) -> dict[Arch, str]:
    """:func:`canonical_form` of each architecture."""
    return {arch: canonical_form(arch) for arch in archs}


def iso_classes(archs: Iterable[Arch]) -> dict[Arch, int]:
    """Each architecture's class id: the smallest ``arch_code`` with the same canonical form."""
    forms = canonical_forms(archs)
    first: dict[str, int] = {}
    for arch, form in forms.items():
        first[form] = min(first.get(form, arch.code), arch.code)
    return {arch: first[form] for arch, form in forms.items()}
