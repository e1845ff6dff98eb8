"""Content-Security-Policy (issue 7): our own scripts and styles only, and the pages still work under it.

A real browser loads the main pages, opens the archive pop-up and previews a merge with the policy on;
any violation (reported by the browser's `securitypolicyviolation` event or logged to its console) fails.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import Page, expect

from lms_admin.accounts.models import User
from tests.security.conftest import World

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations = (window.cspViolations || 0) + 1;
  window.lastCspDirective = e.violatedDirective;
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


def test_the_policy_allows_only_our_own_scripts_and_styles():
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]

    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    everything = " ".join(" ".join(values) for values in directives.values())
    assert "unsafe-inline" not in everything and "unsafe-eval" not in everything


def test_templates_hold_no_inline_scripts_styles_or_event_handlers():
    found = []
    for path in sorted((settings.BASE_DIR / "templates").rglob("*.html")):
        text = path.read_text()
        for pattern in (
            r"<script(?![^>]*\bsrc=)(?![^>]*application/json)",
            r"<style",
            r"\sstyle=",
            r"\son[a-z]+=",
            r"hx-on",
        ):
            if re.search(pattern, text):
                found.append(f"{path.relative_to(settings.BASE_DIR)}: {pattern}")
    assert not found


def test_htmx_is_told_not_to_inject_styles_or_evaluate_code(client):
    body = client.get(reverse("accounts:login")).content.decode()

    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", body)
    assert config, "base.html must configure htmx"
    assert '"includeIndicatorStyles": false' in config.group(1)
    assert '"allowEval": false' in config.group(1)


def log_in(page: Page, base: str, username: str, password: str = "password") -> None:
    page.goto(f"{base}{reverse('accounts:login')}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_main_pages_load_without_a_single_csp_violation(live_server, page: Page, world: World):
    User.objects.filter(pk=world.users["superadmin"].pk).update(is_staff=True)
    violations: list[str] = []
    page.expose_function("reportCspViolation", lambda text: violations.append(f"{page.url}: {text}"))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda msg: (
            violations.append(f"{page.url}: console: {msg.text}")
            if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda error: violations.append(f"{page.url}: page error: {error}"))
    base = live_server.url
    visited: list[str] = []

    def visit(url: str) -> None:
        response = page.goto(f"{base}{url}", wait_until="networkidle")
        assert response is not None and response.status == 200, (url, response and response.status)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        visited.append(url)

    visit(reverse("accounts:login"))
    log_in(page, base, "root_admin")
    expect(page.get_by_role("heading", name="Learning plans")).to_be_visible()

    visit(reverse("enrollments:plan_list"))
    page.get_by_label("Search").fill("Plan")  # htmx swaps the results in (indicator classes, no inline styles)
    page.wait_for_load_state("networkidle")

    visit(reverse("enrollments:plan_enrollments", args=[world.plan.pk]))
    row = page.locator(f'tr[data-enrollment-id="{world.enrollment.pk}"]')
    row.get_by_role("button", name=re.compile("^Actions for")).click()
    row.get_by_role("menuitem", name="Archive enrollment").click()
    expect(page.locator("#modal")).to_be_visible()  # the archive pop-up, loaded by htmx
    page.wait_for_load_state("networkidle")
    page.keyboard.press("Escape")

    visit(reverse("archive:archived_list", args=[world.plan.pk]))
    visit(reverse("archive:archived_detail", args=[world.record.pk]))
    visit(reverse("archive:job_list"))
    visit(reverse("archive:job_detail", args=[world.job.pk]))

    visit(reverse("archive:merge_users"))
    page.get_by_label("Kept user", exact=True).fill("learner")
    page.get_by_label("Users to merge into the kept user").fill("newcomer")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()

    visit(reverse("api:openapi-view"))
    expect(page.locator(".swagger-ui").first).to_be_visible()
    visit(reverse("admin:index"))
    visit(reverse("admin:accounts_user_changelist"))
    visit(reverse("admin:archive_archivedplanenrollment_change", args=[world.record.pk]))

    page.context.clear_cookies()
    log_in(page, base, "manager")
    visit(reverse("archive:team"))
    visit(reverse("archive:archived_detail", args=[world.record.pk]))

    assert len(visited) == 14
    assert not violations, "\n".join(violations)

    # The listener does see what the policy blocks: an inline style is refused and reported.
    page.evaluate("() => document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">probe</p>')")
    page.wait_for_function("() => window.cspViolations > 0")
    assert page.evaluate("() => window.lastCspDirective").startswith("style-src")
