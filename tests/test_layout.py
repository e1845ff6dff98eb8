"""The layout rules of README "Where the code lives", read from the source with `ast`: one test per rule.

A failure lists every offending import as `path:line: module imports target`. The checker is itself tested on
small trees with one planted violation per rule, so a rule that stopped matching anything would show.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lms_admin", "enrollments", "archive", "bench", "scripts")
PLATFORM_APPS = ("lms_admin.accounts", "lms_admin.notifications", "lms_admin.audit", "lms_admin.web")
PRODUCT_APPS = ("enrollments", "archive")
# The API base in lms_admin.web authenticates: roles and tokens are all it takes from the other platform apps.
WEB_MAY_IMPORT = ("lms_admin.accounts.roles", "lms_admin.accounts.tokens")
# A module belongs to the longest of these that prefixes its name.
APPS = (*PLATFORM_APPS, *PRODUCT_APPS, "lms_admin", "bench", "scripts")
# The composition: it wires every app's views into URLs.
MAY_IMPORT_ANY_VIEWS = ("lms_admin.urls", "lms_admin.api_urls")
MAX_LINES = 400
LONG_BY_NATURE = ("enrollments/demo_data.py",)  # the demo's name lists
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}
DYNAMIC_IMPORTS = {"import_module", "__import__"}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def app_of(module: str) -> str:
    return max((app for app in APPS if within(module, app)), key=len, default=module.split(".")[0])


def is_views(module: str) -> bool:
    return any(part == "views" or part.endswith("_views") for part in module.split(".")[1:])


@dataclasses.dataclass(frozen=True)
class Import:
    """One imported module (or one name of a `from` import) as written at one line of one module of ours."""

    module: str
    path: str
    line: int
    target: str  # absolute; the module of ours it resolves to when there is one
    name: str = ""  # the name taken by `from target import name`, when it is not a module itself
    guarded: bool = False  # inside `try: ... except ImportError` or `suppress(ImportError)`
    type_only: bool = False  # under `if TYPE_CHECKING:`

    def __str__(self) -> str:
        what = f"{self.target} import {self.name}" if self.name else self.target
        return f"{self.path}:{self.line}: {self.module} imports {what}"


class Tree:
    """Every module of `packages` under `root` (migrations aside) and every import they make, at any depth."""

    def __init__(self, root: Path, packages: tuple[str, ...] = PACKAGES) -> None:
        self.root = root
        self.files: dict[str, Path] = {}
        for package in packages:
            for path in sorted((root / package).rglob("*.py")):
                parts = list(path.relative_to(root).with_suffix("").parts)
                if "migrations" in parts or "__pycache__" in parts:
                    continue
                if parts[-1] == "__init__":
                    parts.pop()
                self.files[".".join(parts)] = path
        self.imports = [found for module in self.files for found in self._imports_of(module)]

    def relative(self, module: str) -> str:
        return self.files[module].relative_to(self.root).as_posix()

    def ours(self, name: str) -> str:
        """The longest prefix of a dotted name that is one of our modules; the name itself when none is."""
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in self.files:
                return ".".join(parts[:end])
        return name

    def _base(self, module: str, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        package = module.split(".")
        if self.files[module].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        return ".".join(package + ([node.module] if node.module else []))

    def _imports_of(self, module: str) -> Iterator[Import]:
        syntax = ast.parse(self.files[module].read_text(), filename=str(self.files[module]))
        where = {"module": module, "path": self.relative(module)}
        for node, guarded, type_only in walk(syntax):
            flags = {"line": node.lineno, "guarded": guarded, "type_only": type_only, **where}
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(target=self.ours(alias.name), **flags)
            elif isinstance(node, ast.ImportFrom):
                base = self._base(module, node)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in self.files:
                        yield Import(target=submodule, **flags)
                    else:
                        yield Import(target=self.ours(base), name=alias.name, **flags)
            else:  # importlib.import_module(...) / __import__(...)
                argument = node.args[0] if node.args else None
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    yield Import(target=self.ours(argument.value), **flags)
                elif guarded:
                    yield Import(target="<a name computed at run time>", **flags)


def catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(
        (isinstance(c, ast.Name) and c.id in IMPORT_ERRORS)
        or (isinstance(c, ast.Attribute) and c.attr in IMPORT_ERRORS)
        for c in caught
    )


def suppresses_import_error(item: ast.withitem) -> bool:
    call = item.context_expr
    return (
        isinstance(call, ast.Call)
        and getattr(call.func, "id", getattr(call.func, "attr", "")) == "suppress"
        and any(getattr(arg, "id", getattr(arg, "attr", "")) in IMPORT_ERRORS for arg in call.args)
    )


def walk(node: ast.AST, guarded: bool = False, type_only: bool = False) -> Iterator[tuple[ast.AST, bool, bool]]:
    """Import statements and dynamic import calls below `node`, each with whether an ImportError is swallowed
    around it and whether it sits under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, guarded, type_only
            continue
        if isinstance(child, ast.Call) and getattr(child.func, "id", getattr(child.func, "attr", "")) in (
            DYNAMIC_IMPORTS
        ):
            yield child, guarded, type_only
        if isinstance(child, ast.Try | ast.TryStar):
            swallowed = guarded or any(catches_import_error(h) for h in child.handlers if h.type is not None)
            for statement in child.body:
                yield from walk(ast.Module(body=[statement], type_ignores=[]), swallowed, type_only)
            for part in (*child.handlers, *child.orelse, *child.finalbody):
                yield from walk(ast.Module(body=[part], type_ignores=[]), guarded, type_only)
        elif isinstance(child, ast.With) and any(suppresses_import_error(item) for item in child.items):
            for statement in child.body:
                yield from walk(ast.Module(body=[statement], type_ignores=[]), True, type_only)
        elif (
            isinstance(child, ast.If) and getattr(child.test, "id", getattr(child.test, "attr", "")) == "TYPE_CHECKING"
        ):
            for statement in child.body:
                yield from walk(ast.Module(body=[statement], type_ignores=[]), guarded, True)
            for statement in child.orelse:
                yield from walk(ast.Module(body=[statement], type_ignores=[]), guarded, type_only)
        else:
            yield from walk(child, guarded, type_only)


# ---------------------------------------------------------------------------------------------------------------
# The rules: each returns one line per violation, empty when the code keeps it.


def enrollments_importing_archive(tree: Tree) -> list[str]:
    return [str(i) for i in tree.imports if within(i.module, "enrollments") and within(i.target, "archive")]


def platform_importing_products(tree: Tree) -> list[str]:
    found = []
    for i in tree.imports:
        app = app_of(i.module)
        if app in PLATFORM_APPS and any(within(i.target, product) for product in PRODUCT_APPS):
            found.append(f"{i} (a platform app imports no product app)")
        elif (
            app == "lms_admin.web"
            and app_of(i.target) in PLATFORM_APPS
            and app_of(i.target) != app
            and not any(within(i.target, allowed) for allowed in WEB_MAY_IMPORT)
        ):
            found.append(f"{i} (lms_admin.web takes only {', '.join(WEB_MAY_IMPORT)} from the other platform apps)")
    return found


def views_importing_other_apps_views(tree: Tree) -> list[str]:
    return [
        f"{i} (the views of {app_of(i.target)}, from {app_of(i.module)})"
        for i in tree.imports
        if i.target in tree.files
        and is_views(i.target)
        and app_of(i.target) != app_of(i.module)
        and i.module not in MAY_IMPORT_ANY_VIEWS
    ]


def import_errors_swallowed(tree: Tree) -> list[str]:
    return [
        f"{i} (inside `except ImportError`)"
        for i in tree.imports
        if i.guarded and (i.target in tree.files or i.target.split(".")[0] in PACKAGES or i.target.startswith("<"))
    ]


def bench_importing_tests_or_private_names(tree: Tree) -> list[str]:
    found = []
    for i in tree.imports:
        if not within(i.module, "bench"):
            continue
        if within(i.target, "tests"):
            found.append(f"{i} (bench imports nothing from tests)")
        elif i.name.startswith("_") and not i.name.endswith("__") and i.target != i.module:
            found.append(f"{i} (a private name of another module)")
    return found


def import_cycles(tree: Tree) -> list[str]:
    """Every strongly connected component of more than one module in the graph of runtime imports."""
    edges: dict[str, dict[str, Import]] = {module: {} for module in tree.files}
    for i in tree.imports:
        if i.target in tree.files and i.target != i.module and not i.type_only:
            edges[i.module].setdefault(i.target, i)
    found = []
    for component in strongly_connected(edges):
        if len(component) > 1:
            inside = [str(i) for module in sorted(component) for t, i in edges[module].items() if t in component]
            found.append(f"cycle between {', '.join(sorted(component))}:\n    " + "\n    ".join(inside))
    return found


def strongly_connected(edges: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (a deep import chain must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges[successor])))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def long_modules(tree: Tree) -> list[str]:
    found = []
    for module in tree.files:
        path = tree.relative(module)
        lines = len(tree.files[module].read_text().splitlines())
        if lines > MAX_LINES and path not in LONG_BY_NATURE:
            found.append(f"{path}: {lines} lines (more than {MAX_LINES}: split it by concern)")
    return found


# ---------------------------------------------------------------------------------------------------------------
# The rules on our code


@pytest.fixture(scope="module")
def project() -> Tree:
    return Tree(REPO_ROOT)


def assert_keeps(rule: Callable[[Tree], list[str]], tree: Tree) -> None:
    found = rule(tree)
    assert not found, f"{rule.__name__}:\n" + "\n".join(found)


def test_the_checker_sees_the_project(project):
    assert {"archive.services", "enrollments.models", "lms_admin.web.api", "bench.jobs"} <= set(project.files)
    assert not any("migrations" in module for module in project.files)
    assert len(project.imports) > 500


def test_enrollments_never_imports_archive(project):
    assert_keeps(enrollments_importing_archive, project)


def test_platform_apps_import_no_product_app(project):
    assert_keeps(platform_importing_products, project)


def test_no_app_imports_another_apps_views(project):
    assert_keeps(views_importing_other_apps_views, project)


def test_no_import_error_swallowed_around_our_modules(project):
    assert_keeps(import_errors_swallowed, project)


def test_bench_imports_no_tests_and_no_private_names(project):
    assert_keeps(bench_importing_tests_or_private_names, project)


def test_no_import_cycles(project):
    assert_keeps(import_cycles, project)


def test_no_module_over_400_lines(project):
    assert_keeps(long_modules, project)


# ---------------------------------------------------------------------------------------------------------------
# The checker on planted violations: each rule reports the module and line it should


CLEAN = {
    "lms_admin/__init__.py": "",
    "lms_admin/accounts/__init__.py": "",
    "lms_admin/accounts/roles.py": "def is_superadmin(user):\n    return True\n",
    "lms_admin/accounts/models.py": "from django.db import models\n",
    "lms_admin/web/__init__.py": "",
    "lms_admin/web/api.py": "from lms_admin.accounts.roles import is_superadmin\n",
    "lms_admin/urls.py": "from archive.views import popup\nfrom enrollments import views\n",
    "enrollments/__init__.py": "",
    "enrollments/models.py": "from lms_admin.accounts.models import models\n",
    "enrollments/views.py": "from .models import models\n",
    "archive/__init__.py": "",
    "archive/services/__init__.py": "from .engine import run\n",
    "archive/services/engine.py": "from . import sql\n\ndef run():\n    from enrollments.models import models\n",
    "archive/services/sql.py": "COLUMNS = 'a, b'\n",
    "archive/views/__init__.py": "",
    "archive/views/popup.py": "from ..services import run\nfrom ..services.sql import COLUMNS\n",
    "bench/__init__.py": "",
    "bench/common.py": "def database_url():\n    return ''\n",
    "bench/engine.py": "from archive.services.sql import COLUMNS\nfrom bench.common import database_url\n",
}

PLANTED = [
    (enrollments_importing_archive, "enrollments/views.py", "\ndef f():\n    from archive.models import X\n", 3),
    (platform_importing_products, "lms_admin/accounts/admin.py", "from enrollments import views\n", 1),
    (platform_importing_products, "lms_admin/web/lists.py", "import os\nfrom lms_admin.accounts import models\n", 2),
    (views_importing_other_apps_views, "archive/views/popup.py", "from enrollments.views import plan_list\n", 1),
    (views_importing_other_apps_views, "lms_admin/accounts/admin.py", "from archive.views import popup\n", 1),
    (
        import_errors_swallowed,
        "archive/services/sql.py",
        "try:\n    from .engine import run\nexcept ImportError:\n    pass\n",
        2,
    ),
    (
        import_errors_swallowed,
        "archive/jobs.py",
        "try:\n    import archive.x\nexcept (KeyError, ModuleNotFoundError):\n    pass\n",
        2,
    ),
    (
        import_errors_swallowed,
        "bench/x.py",
        "import contextlib\nwith contextlib.suppress(ImportError):\n    import enrollments\n",
        3,
    ),
    (
        import_errors_swallowed,
        "bench/y.py",
        "import importlib\ntry:\n    importlib.import_module(name)\nexcept ImportError:\n    pass\n",
        3,
    ),
    (bench_importing_tests_or_private_names, "bench/jobs.py", "def f():\n    from tests.workers import wait_for\n", 2),
    (bench_importing_tests_or_private_names, "bench/jobs.py", "from bench.common import _child\n", 1),
    (import_cycles, "archive/services/sql.py", "from archive.services import engine\n", 1),
    (import_cycles, "enrollments/models.py", "def f():\n    from .views import models\n", 2),
    (long_modules, "archive/selectors.py", "x = 1\n" * (MAX_LINES + 1), MAX_LINES + 1),
]


def plant(root: Path, files: dict[str, str]) -> Tree:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Tree(root)


@pytest.mark.parametrize("rule", sorted({rule for rule, *_ in PLANTED}, key=lambda rule: rule.__name__))
def test_a_clean_tree_keeps_every_rule(tmp_path, rule):
    assert rule(plant(tmp_path, CLEAN)) == []


@pytest.mark.parametrize(("rule", "path", "text", "line"), PLANTED, ids=lambda v: getattr(v, "__name__", None))
def test_a_planted_violation_is_reported_with_its_module_and_line(tmp_path, rule, path, text, line):
    """The planted text is appended to the clean module of that path (a new module when there is none)."""
    before = "" if rule is long_modules else CLEAN.get(path, "")
    found = rule(plant(tmp_path, {**CLEAN, path: before + text}))
    at = line + len(before.splitlines())
    assert len(found) == 1, found
    assert f"{path}:{at}: " in found[0] or f"{path}: {at} lines" in found[0], found
