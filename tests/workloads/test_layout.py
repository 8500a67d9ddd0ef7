"""workloads/README.md and the packages' __init__ docstrings name every file of
workloads/ (issue 17: each file one job that its name says, listed where a
newcomer looks)."""
import ast
import os
import re

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WL = os.path.join(TOP, "workloads")


def files(sub=""):
    d = os.path.join(WL, sub)
    return sorted(f for f in os.listdir(d)
                  if os.path.isfile(os.path.join(d, f)) and not f.endswith((".pyc", ".fio"))
                  and f not in ("README.md", "__init__.py"))


def test_readme_names_every_file():
    named = set(re.findall(r"`([^`\s]+)`", open(os.path.join(WL, "README.md")).read()))
    missing = [os.path.join(sub, f) for sub in ("", "runner", "fstests") for f in files(sub)
               if f not in named]
    assert not missing, f"workloads/README.md does not name {missing}"


def test_package_docstrings_name_every_module():
    for pkg, name in (("runner", lambda f: f[:-3]), ("fstests", lambda f: f)):
        doc = ast.get_docstring(ast.parse(open(os.path.join(WL, pkg, "__init__.py")).read()))
        listed = {line.split()[0] for line in doc.splitlines() if line.startswith("  ") and line.split()}
        missing = [f for f in files(pkg) if f.endswith(".py") and name(f) not in listed]
        assert not missing, f"workloads/{pkg}/__init__.py does not list {missing}"
