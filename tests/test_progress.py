import io

from bo_transfer.sweep.progress import Progress


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_are_rate_limited_but_the_last_always_shows():
    out = io.StringIO()
    bar = Progress(5, stream=out, interval=3600)
    for status in ["done", "failed", "done", "done", "done"]:
        bar.update(status)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # the first update, then the final one
    assert lines[-1].startswith("5/5 runs: 4 done, 1 failed, 0 remaining")


def test_tty_bar_redraws_in_place_with_eta():
    out = FakeTTY()
    bar = Progress(4, stream=out)
    bar.update("done")
    text = out.getvalue()
    assert text.startswith("\r[######") and "1/4 runs" in text and "ETA" in text
    assert "\n" not in text
