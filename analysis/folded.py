"""FlameGraph "folded" stacks: parse, merge, normalise, build the frame tree, diff two
profiles.  Format (compatible with flamegraph.pl and speedscope): one line per stack,
frames root-first joined by ';', then whitespace and a sample count."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, Optional, Tuple

from .schema import ResultsError

Stacks = Counter  # Counter[Tuple[str, ...], float]


def parse_folded(text: str, source: str = "<folded>") -> Stacks:
    """Parse folded text into Counter{(frame, ...): count}. Duplicated stacks add up.
    Blank lines and '#' comments are skipped; anything else malformed is an error that
    names the line."""
    out: Stacks = Counter()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(None, 1)
        if len(parts) != 2:
            raise ResultsError(f"{source}:{lineno}: expected 'frame;frame;... COUNT', "
                               f"got {raw[:80]!r}")
        stack, cnt = parts
        try:
            n = int(cnt)
        except ValueError:
            try:
                n = float(cnt)
            except ValueError:
                raise ResultsError(f"{source}:{lineno}: sample count {cnt!r} is not a number") \
                    from None
        if not (n >= 0) or n == float("inf"):
            raise ResultsError(f"{source}:{lineno}: sample count must be a finite number >= 0")
        frames = tuple(stack.split(";"))
        if n:
            out[frames] += n
    return out


def collapse_perf_script(text: str, source: str = "<perf script>") -> Stacks:
    """Fold the default output of `perf script` (perf record -g) into stacks.

    Each sample is a header line ("comm pid [cpu] time: period event:") followed
    by one line per frame, leaf first ("\taddr symbol+0xoff (dso)"), and a blank
    line.  Frames come out root first with the command name as the root frame,
    offsets dropped, as FlameGraph's stackcollapse-perf does."""
    out: Stacks = Counter()
    comm = None
    frames = []

    def flush():
        if comm is not None:
            out[tuple([comm] + frames[::-1])] += 1

    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            flush()
            comm, frames = None, []
            continue
        if raw[0] not in " \t":
            flush()
            frames = []
            head = raw.split()
            # "comm pid/tid [cpu] time: ..." -- comm may contain spaces: take what
            # precedes the first all-digit (or digit/digit) field.
            i = next((k for k, w in enumerate(head) if w.replace("/", "").isdigit()), None)
            if not i:
                raise ResultsError(f"{source}:{lineno}: not a perf script sample header: "
                                   f"{raw[:80]!r}")
            comm = "-".join(head[:i]).replace(";", ":")
            continue
        if comm is None:
            raise ResultsError(f"{source}:{lineno}: stack frame before any sample header")
        parts = raw.split(None, 1)
        sym = parts[1] if len(parts) > 1 else "[unknown]"
        if sym.endswith(")") and " (" in sym:
            sym = sym[:sym.rindex(" (")]
        if "+0x" in sym:
            sym = sym[:sym.rindex("+0x")]
        frames.append(sym.replace(";", ":") or "[unknown]")
    flush()
    return out


def read_folded(path: str) -> Stacks:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing (folded stacks)") from None
    except OSError as e:
        raise ResultsError(f"{path}: cannot read folded stacks: {e}") from None
    return parse_folded(text, path)


def merge(stacks: Iterable[Stacks]) -> Stacks:
    out: Stacks = Counter()
    for s in stacks:
        out.update(s)
    return out


def total(stacks: Stacks) -> float:
    return sum(stacks.values())


def normalise(stacks: Stacks) -> Dict[Tuple[str, ...], float]:
    """Each stack's share of all samples (sums to 1). Empty input -> {}."""
    t = total(stacks)
    if t <= 0:
        return {}
    return {k: v / t for k, v in stacks.items()}


def to_text(stacks: Stacks) -> str:
    """Folded text, sorted for stable output (round-trips through parse_folded)."""
    lines = []
    for k in sorted(stacks):
        v = stacks[k]
        v = int(v) if float(v).is_integer() else v
        lines.append(f"{';'.join(k)} {v}")
    return "\n".join(lines) + ("\n" if lines else "")


@dataclass
class Node:
    name: str
    value: float = 0.0            # inclusive samples (or share)
    self_value: float = 0.0
    delta: float = 0.0            # inclusive share(B) - share(A), for differential graphs
    other: float = 0.0            # inclusive share in the other profile (A), for diffs
    children: Dict[str, "Node"] = field(default_factory=dict)

    def child(self, name: str) -> "Node":
        c = self.children.get(name)
        if c is None:
            c = self.children[name] = Node(name)
        return c

    def find(self, path: Tuple[str, ...]) -> Optional["Node"]:
        n = self
        for p in path:
            n = n.children.get(p)
            if n is None:
                return None
        return n

    def depth(self) -> int:
        return 1 + max((c.depth() for c in self.children.values()), default=0)


def build_tree(stacks: Stacks, root_name: str = "all") -> Node:
    root = Node(root_name)
    for frames, v in stacks.items():
        root.value += v
        n = root
        for f in frames:
            n = n.child(f)
            n.value += v
        n.self_value += v
    return root


def diff_tree(a: Stacks, b: Stacks, root_name: str = "all") -> Node:
    """Tree shaped by B with values = B's share of its own total (so widths compare
    across profiles of different length); delta = share_B - share_A per frame,
    inclusive. Frames only present in A are attached with value 0, delta < 0, so
    they appear in hover text and in `vanished()` but take no width."""
    na, nb = normalise(a), normalise(b)
    root = build_tree(Counter(nb), root_name)
    ta = build_tree(Counter(na), root_name)

    def walk(nb_node: Node, na_node: Optional[Node]):
        nb_node.other = na_node.value if na_node else 0.0
        nb_node.delta = nb_node.value - nb_node.other
        if na_node:
            for name, c in na_node.children.items():
                if name not in nb_node.children:
                    nb_node.children[name] = Node(name, value=0.0, other=c.value, delta=-c.value)
        for name, c in list(nb_node.children.items()):
            oc = na_node.children.get(name) if na_node else None
            if c.value > 0:
                walk(c, oc)
    walk(root, ta)
    return root


def vanished(root: Node, path=()):
    """(path, share_A) of frames that exist only in the baseline of a diff tree."""
    for name, c in root.children.items():
        if c.value == 0 and c.other > 0:
            yield path + (name,), c.other
        else:
            yield from vanished(c, path + (name,))
