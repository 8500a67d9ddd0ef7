"""Synthetic fstests output for the tests: result.xml, state.json, console.log."""
import json
import os

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="xfstests" failures="0" skipped="0" tests="0" time="">
\t<properties><property name="FSTYP" value="f2fs"/></properties>
"""


def case(name, status="pass", seconds=3, message=""):
    """One <testcase> as fstests' common/report writes it."""
    body = ""
    if status == "notrun":
        body = f'\t\t<skipped message="{message}" />\n'
    elif status == "fail":
        body = (f'\t\t<failure message="{message}" type="TestFail" />\n'
                "\t\t<system-out>\n<![CDATA[\nfull log\n]]>\n\t\t</system-out>\n")
    return f'\t<testcase classname="xfstests.plain" name="{name}" time="{seconds}">\n{body}\t</testcase>\n'


def boot(path, sections, state=None, console=""):
    """A boot directory: sections = {section: [case(...), ...]}."""
    for sec, cases in sections.items():
        os.makedirs(os.path.join(path, "results", sec), exist_ok=True)
        with open(os.path.join(path, "results", sec, "result.xml"), "w") as f:
            f.write(HEADER + "".join(cases) + "</testsuite>\n")
    if state is None:
        state = {"sections": {sec: {"ran": True, "hung": None} for sec in sections}}
    with open(os.path.join(path, "state.json"), "w") as f:
        json.dump(state, f)
    with open(os.path.join(path, "console.log"), "w") as f:
        f.write(console)
    return path
