"""Go's fmt package for the values a template holds: Sprint, Sprintln and Sprintf.

The entry points and doPrintf's directive parser; printing one argument is
confpy.gotemplate.goprint's, formatting numbers and strings confpy.gotemplate.goformat's.
Follows fmt's print.go and format.go: flags, width and precision apply to each element
of a slice or map; `%!verb(type=value)` marks a bad verb; `%!(EXTRA ...)`, `[n]`
argument indexes, `*` widths. Floats and quoting are strconv's (confpy.golib.strconv).
"""

from __future__ import annotations

from typing import Any

from confpy.gotemplate.goprint import Printer


def sprint(*args: Any) -> str:
    if len(args) == 1 and type(args[0]) is str:
        return args[0]  # what the printer makes of one string, once per key a template prints
    p = Printer()
    prev_string = False
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            p.buf.append(" ")
        p.print_arg(a, "v")
        prev_string = is_string
    return p.out()


def sprintln(*args: Any) -> str:
    p = Printer()
    for i, a in enumerate(args):
        if i > 0:
            p.buf.append(" ")
        p.print_arg(a, "v")
    p.buf.append("\n")
    return p.out()


def _parsenum(s: str, start: int, end: int) -> tuple[int, bool, int]:
    if start >= end:
        return 0, False, end
    num = 0
    isnum = False
    i = start
    while i < end and "0" <= s[i] <= "9":
        if num > 1_000_000:
            return 0, False, end
        num = num * 10 + ord(s[i]) - 48
        isnum = True
        i += 1
    return num, isnum, i


def sprintf(fmt: str, *a: Any) -> str:
    """Go's fmt.Sprintf: each directive's flags, argument index, width, precision and verb."""
    return _Printf(fmt, a).run()


class _Printf:
    """One Sprintf as Go's doPrintf runs it: the position in `fmt`, the next argument, and
    whether an explicit `[n]` index reordered them (then unused ones are not EXTRA)."""

    def __init__(self, fmt: str, a: tuple[Any, ...]) -> None:
        self.p = Printer()
        self.f = self.p.f
        self.fmt = fmt
        self.end = len(fmt)
        self.a = a
        self.i = 0
        self.arg_num = 0
        self.after_index = False
        self.reordered = False
        self.good = True

    def run(self) -> str:
        fmt, end, p = self.fmt, self.end, self.p
        while self.i < end:
            self.good = True
            last = self.i
            while self.i < end and fmt[self.i] != "%":
                self.i += 1
            if self.i > last:
                p.buf.append(fmt[last : self.i])
            if self.i >= end:
                break
            self.i += 1
            self.f.clear()
            if self.flags():
                continue
            if not self.directive():
                break
        self.extra()
        return p.out()

    def flags(self) -> bool:
        """Read the flags; True when a plain verb followed and was printed (Go's fast path)."""
        fmt, end, f = self.fmt, self.end, self.f
        while self.i < end:
            c = fmt[self.i]
            if c == "#":
                f.sharp = True
            elif c == "0":
                f.zero = not f.minus
            elif c == "+":
                f.plus = True
            elif c == "-":
                f.minus = True
                f.zero = False
            elif c == " ":
                f.space = True
            else:
                if "a" <= c <= "z" and self.arg_num < len(self.a):
                    self.print_verb(c)
                    self.i += 1
                    return True
                return False
            self.i += 1
        return False

    def directive(self) -> bool:
        """The rest of a directive after its flags; False when the format ends without a verb."""
        fmt, end, p = self.fmt, self.end, self.p
        self.arg_number()
        self.width()
        if self.i + 1 <= end and self.i < end and fmt[self.i] == ".":
            self.precision()
        if not self.after_index:
            self.arg_number()
        if self.i >= end:
            p.buf.append("%!(NOVERB)")
            return False
        verb = fmt[self.i]
        self.i += 1
        if verb == "%":
            p.buf.append("%")
        elif not self.good:
            p.buf.append("%!" + verb + "(BADINDEX)")
        elif self.arg_num >= len(self.a):
            p.buf.append("%!" + verb + "(MISSING)")
        else:
            self.print_verb(verb)
        return True

    def print_verb(self, verb: str) -> None:
        f = self.f
        if verb == "v":
            f.sharp_v, f.sharp = f.sharp, False
            f.plus_v, f.plus = f.plus, False
        self.p.print_arg(self.a[self.arg_num], verb)
        self.arg_num += 1

    def width(self) -> None:
        """`*` (the width from an argument) or digits."""
        fmt, end, f = self.fmt, self.end, self.f
        if self.i < end and fmt[self.i] == "*":
            self.i += 1
            f.wid, f.wid_present, self.arg_num = _int_from_arg(self.a, self.arg_num)
            if not f.wid_present:
                self.p.buf.append("%!(BADWIDTH)")
            if f.wid < 0:
                f.wid = -f.wid
                f.minus = True
                f.zero = False
            self.after_index = False
        else:
            f.wid, f.wid_present, self.i = _parsenum(fmt, self.i, end)
            if self.after_index and f.wid_present:
                self.good = False

    def precision(self) -> None:
        """After `.`: an argument index, then `*` (from an argument) or digits (none is 0)."""
        fmt, end, f = self.fmt, self.end, self.f
        self.i += 1
        if self.after_index:
            self.good = False
        self.arg_number()
        if self.i < end and fmt[self.i] == "*":
            self.i += 1
            f.prec, f.prec_present, self.arg_num = _int_from_arg(self.a, self.arg_num)
            if f.prec < 0:
                f.prec = 0
                f.prec_present = False
            if not f.prec_present:
                self.p.buf.append("%!(BADPREC)")
            self.after_index = False
        else:
            f.prec, f.prec_present, self.i = _parsenum(fmt, self.i, end)
            if not f.prec_present:
                f.prec = 0
                f.prec_present = True

    def arg_number(self) -> None:
        """An explicit `[n]`: argument n comes next; a bad one spoils the directive."""
        self.arg_num, self.i, self.after_index, ok = self._parse_arg_number()
        if not ok:
            self.good = False
        if self.after_index or not ok:
            self.reordered = True

    def _parse_arg_number(self) -> tuple[int, int, bool, bool]:
        """-> (argNum, i, found, good), as Go's argNumber."""
        fmt, end, i, arg_num = self.fmt, self.end, self.i, self.arg_num
        if i >= end or fmt[i] != "[":
            return arg_num, i, False, True
        # parseArgNumber
        if end - i < 3:
            return arg_num, i + 1, False, False
        for j in range(i + 1, end):
            if fmt[j] == "]":
                width, ok, newi = _parsenum(fmt, i + 1, j)
                if not ok or newi != j:
                    return arg_num, j + 1, False, False
                index = width - 1
                if 0 <= index < len(self.a):
                    return index, j + 1, True, True
                return arg_num, j + 1, True, False
        return arg_num, i + 1, False, False

    def extra(self) -> None:
        """Arguments no directive used, unless an index reordered them: %!(EXTRA type=value)."""
        p, f = self.p, self.f
        if self.reordered or self.arg_num >= len(self.a):
            return
        f.clear()
        p.buf.append("%!(EXTRA ")
        for j, arg in enumerate(self.a[self.arg_num :]):
            if j:
                p.buf.append(", ")
            p.print_typed(arg)
        p.buf.append(")")


def _int_from_arg(a: tuple[Any, ...], arg_num: int) -> tuple[int, bool, int]:
    num, ok = 0, False
    if arg_num < len(a):
        v = a[arg_num]
        if isinstance(v, int) and not isinstance(v, bool):
            num, ok = int(v), True
            if not -1_000_000 <= num <= 1_000_000:
                num, ok = 0, False
        arg_num += 1
    return num, ok, arg_num


def sprint_value(v: Any) -> str:
    """What `{{v}}` prints (fmt.Fprint of one value)."""
    return sprint(v)


__all__ = ["sprint", "sprint_value", "sprintf", "sprintln"]
