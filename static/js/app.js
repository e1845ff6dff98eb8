/* lms_admin — small behaviours on top of server-rendered pages and htmx. No build step. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  /* ---- Menus: a <button aria-haspopup="menu" aria-controls> and its <ul role="menu"> ---- */
  function menuOf(button) { return document.getElementById(button.getAttribute("aria-controls")); }
  function items(menu) { return Array.from(menu.querySelectorAll('a[role="menuitem"], button[role="menuitem"]')); }

  function closeMenu(button, returnFocus) {
    var menu = menuOf(button);
    if (!menu) return;
    menu.classList.remove("open");
    button.setAttribute("aria-expanded", "false");
    if (returnFocus) button.focus();
  }
  function closeAllMenus(except) {
    document.querySelectorAll('[data-menu-button][aria-expanded="true"]').forEach(function (b) {
      if (b !== except) closeMenu(b, false);
    });
  }
  function openMenu(button, focusLast) {
    var menu = menuOf(button);
    if (!menu) return;
    closeAllMenus(button);
    menu.classList.add("open");
    button.setAttribute("aria-expanded", "true");
    var list = items(menu);
    if (list.length) (focusLast ? list[list.length - 1] : list[0]).focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-menu-button]");
    if (button) {
      if (button.getAttribute("aria-expanded") === "true") closeMenu(button, false);
      else openMenu(button, false);
      return;
    }
    if (!event.target.closest('[role="menu"]')) closeAllMenus(null);
  });

  document.addEventListener("keydown", function (event) {
    var button = event.target.closest("[data-menu-button]");
    if (button && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      openMenu(button, event.key === "ArrowUp");
      return;
    }
    var menu = event.target.closest('[role="menu"]');
    if (!menu) return;
    var owner = document.querySelector('[aria-controls="' + menu.id + '"]');
    var list = items(menu);
    var index = list.indexOf(document.activeElement);
    if (event.key === "Escape") { event.preventDefault(); if (owner) closeMenu(owner, true); }
    else if (event.key === "ArrowDown") { event.preventDefault(); if (list.length) list[(index + 1) % list.length].focus(); }
    else if (event.key === "ArrowUp") { event.preventDefault(); if (list.length) list[(index - 1 + list.length) % list.length].focus(); }
    else if (event.key === "Home") { event.preventDefault(); if (list.length) list[0].focus(); }
    else if (event.key === "End") { event.preventDefault(); if (list.length) list[list.length - 1].focus(); }
    else if (event.key === "Tab" && owner) { closeMenu(owner, false); }
  });

  /* ---- The one pop-up shell (#modal, a <dialog>): htmx fills it, we open it ---- */
  var returnFocusTo = null;

  function modal() { return document.getElementById("modal"); }

  function openModal() {
    var dialog = modal();
    if (!dialog.open) dialog.showModal();
    var target = dialog.querySelector("[autofocus]") ||
      dialog.querySelector('input:not([type="hidden"]):not([disabled]), select, textarea, button:not([data-modal-close])') ||
      dialog.querySelector("[data-modal-close]");
    if (target) target.focus();
  }

  function closeModal() {
    var dialog = modal();
    if (dialog && dialog.open) dialog.close(); /* the "close" handler below clears and returns focus */
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "modal" && !modal().open) {
      returnFocusTo = document.activeElement;
      /* Opened from a menu item: the menu closes and focus later returns to its button. */
      var menu = returnFocusTo && returnFocusTo.closest && returnFocusTo.closest('[role="menu"]');
      var owner = menu && document.querySelector('[aria-controls="' + menu.id + '"]');
      if (owner) { closeMenu(owner, false); returnFocusTo = owner; }
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "modal") {
      if (modal().innerHTML.trim()) openModal();
      else closeModal();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var dialog = modal();
    if (!dialog) return;
    dialog.addEventListener("close", function () {
      dialog.innerHTML = "";
      if (returnFocusTo && document.contains(returnFocusTo)) returnFocusTo.focus();
      returnFocusTo = null;
    });
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-modal-close]")) { event.preventDefault(); closeModal(); }
  });
  /* A server response can close it: HX-Trigger: modal:close */
  document.addEventListener("modal:close", closeModal);

  /* ---- "Select every row on this page" ---- */
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-page]");
    if (!all) return;
    var table = all.closest("table");
    table.querySelectorAll("input.row-select").forEach(function (box) { box.checked = all.checked; });
  });

  /* ---- Selection of the Active view, kept across pages (sessionStorage, per plan) ---- */
  function selectionForm() { return document.querySelector("form[data-selection]"); }
  function storageKey(form) { return "archive-selection:" + form.dataset.plan; }
  function loadIds(form) {
    try { return JSON.parse(sessionStorage.getItem(storageKey(form)) || "[]"); } catch (e) { return []; }
  }
  function saveIds(form, ids) { sessionStorage.setItem(storageKey(form), JSON.stringify(ids)); }
  function rowBoxes() { return Array.from(document.querySelectorAll('input.row-select[form="selection-form"]')); }

  function renderSelection(form) {
    var ids = loadIds(form);
    var onPage = {};
    rowBoxes().forEach(function (box) { onPage[box.value] = true; box.checked = ids.indexOf(box.value) !== -1; });
    var extra = form.querySelector("[data-selection-extra]");
    extra.innerHTML = "";
    ids.forEach(function (id) {
      if (onPage[id]) return;
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "enrollment_ids"; input.value = id;
      extra.appendChild(input);
    });
    var selectAll = form.querySelector("[data-select-all-input]").value === "1";
    var count = form.querySelector("[data-selection-count]");
    var summary = form.querySelector("[data-selection-summary]");
    var allButton = form.querySelector("[data-select-all]");
    if (selectAll) {
      var total = allButton && allButton.dataset.total;
      summary.textContent = total ? "All " + Number(total).toLocaleString("en") + " matching enrollments selected"
        : "All matching enrollments selected";
    } else {
      summary.innerHTML = "";
      count.textContent = String(ids.length);
      summary.appendChild(count);
      summary.appendChild(document.createTextNode(" selected"));
    }
    form.classList.toggle("has-selection", selectAll || ids.length > 0);
    var limit = Number(form.dataset.limit);
    form.querySelector("[data-selection-limit-note]").textContent =
      ids.length + " of at most " + limit + " picked by hand";
    var pageBox = document.querySelector("[data-select-page]");
    if (pageBox) {
      var boxes = rowBoxes();
      pageBox.checked = boxes.length > 0 && boxes.every(function (b) { return b.checked; });
    }
  }

  function changeSelection(form, add, remove) {
    var ids = loadIds(form).filter(function (id) { return remove.indexOf(id) === -1; });
    var limit = Number(form.dataset.limit);
    var refused = false;
    add.forEach(function (id) {
      if (ids.indexOf(id) !== -1) return;
      if (ids.length >= limit) { refused = true; return; }
      ids.push(id);
    });
    saveIds(form, ids);
    form.querySelector("[data-select-all-input]").value = "";
    form.querySelector("[data-selection-limit-reached]").hidden = !refused;
    renderSelection(form);
  }

  function clearSelection(form) {
    saveIds(form, []);
    form.querySelector("[data-select-all-input]").value = "";
    form.querySelector("[data-selection-limit-reached]").hidden = true;
    renderSelection(form);
  }

  document.addEventListener("change", function (event) {
    var form = selectionForm();
    if (!form) return;
    if (event.target.matches('input.row-select[form="selection-form"]')) {
      var id = event.target.value;
      if (event.target.checked) changeSelection(form, [id], []);
      else changeSelection(form, [], [id]);
    } else if (event.target.closest("[data-select-page]")) {
      var ids = rowBoxes().map(function (b) { return b.value; });
      if (event.target.checked) changeSelection(form, ids, []);
      else changeSelection(form, [], ids);
    }
  });
  document.addEventListener("click", function (event) {
    var form = selectionForm();
    if (!form) return;
    if (event.target.closest("[data-select-all]")) {
      form.querySelector("[data-select-all-input]").value = "1";
      renderSelection(form);
    } else if (event.target.closest("[data-clear-selection]")) {
      clearSelection(form);
    }
  });
  document.addEventListener("selection:clear", function () {
    var form = selectionForm();
    if (form) clearSelection(form);
  });
  function syncSelection() { var form = selectionForm(); if (form) renderSelection(form); }
  document.addEventListener("DOMContentLoaded", syncSelection);
  document.addEventListener("htmx:afterSettle", syncSelection);

  /* ---- A server response can ask for the list to refresh: HX-Trigger: enrollments:refresh ---- */
  document.addEventListener("enrollments:refresh", function () {
    var filters = document.getElementById("enrollment-filters") || document.getElementById("archived-filters");
    if (filters && window.htmx) window.htmx.trigger(filters, "submit");
  });

  /* ---- <select data-autosubmit>: submit its form on change ---- */
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]") && event.target.form) event.target.form.requestSubmit();
  });

  /* ---- A 422 answer carries a form with its errors: htmx shows it where the form was ---- */
  function swapValidationErrors() {
    if (!window.htmx) return;
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
      { code: "...", swap: false }
    ];
  }
  swapValidationErrors();
  document.addEventListener("DOMContentLoaded", swapValidationErrors);
})();
