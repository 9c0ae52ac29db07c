"""The self-test's command-line hooks and its failure report (no Qt, no database here; the
full run is in tests/e2e/test_packaging_self_test.py)."""

from __future__ import annotations

import argparse

import pytest

from desktop_app import resources, self_test


def test_no_flag_means_carry_on() -> None:
    assert self_test.early_exit([]) is None
    assert self_test.early_exit(["--db", "orders.sqlite3", "--read-only"]) is None


def test_flags_join_the_gui_parser() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db")
    self_test.add_cli_flags(parser)
    args = parser.parse_args(["--db", "x", "--self-test", "--self-test-keep"])
    assert args.self_test and args.self_test_keep and args.db == "x"
    assert self_test.handle_cli_flags(parser.parse_args([])) is None


def test_abbreviations_do_not_start_the_self_test() -> None:
    assert self_test.early_exit(["--self"]) is None


def test_a_failure_is_one_line_and_a_nonzero_exit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing() -> str:
        raise resources.MissingResourceError("resource 'style.qss' is missing")

    monkeypatch.setattr(resources, "style_sheet", missing)
    assert self_test.run_self_test() == self_test.EXIT_FAILED
    out = capsys.readouterr().out
    assert out == "self-test FAILED: resources: resource 'style.qss' is missing\n"


def test_success_line_format() -> None:
    result = self_test.SelfTestResult(
        events=12, orders=2, window_width=1280, window_height=800, seconds=0.844
    )
    assert result.line() == (
        "self-test OK: 12 events, chain verified, 2 orders listed, window 1280x800, 0.84 s"
    )
