#!/usr/bin/env bash
# Keep the English translation in step with the French source strings.
#
#   scripts/messages.sh          extract parvis/locale/django.pot from the code and
#                                templates (see babel.cfg), create or update
#                                parvis/locale/en/LC_MESSAGES/django.po, compile django.mo
#   scripts/messages.sh --check  change nothing; exit 1, listing them, if a msgid used
#                                in the code is missing, untranslated or fuzzy in the
#                                English .po, if a translation breaks a placeholder, or
#                                if django.mo does not match django.po (the test suite runs this)
#
# Workflow: run it, fill in the empty (and review the fuzzy) msgstr in django.po, run it
# again to compile, commit django.pot, django.po and django.mo together.
set -euo pipefail
SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
cd "$(dirname "$SCRIPT")/.."

PYBABEL=.venv/bin/pybabel
PYTHON=.venv/bin/python
LOCALE_DIR=parvis/locale
DOMAIN=django
POT=$LOCALE_DIR/$DOMAIN.pot
PO=$LOCALE_DIR/en/LC_MESSAGES/$DOMAIN.po
MO=$LOCALE_DIR/en/LC_MESSAGES/$DOMAIN.mo
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)

mode=update
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h | --help)
    sed -n '2,13s/^# \{0,1\}//p' "$SCRIPT"
    exit 0
    ;;
  *)
    echo "usage: scripts/messages.sh [--check]" >&2
    exit 2
    ;;
esac

# The keywords live in babel.cfg (pybabel only takes them on its command line).
keyword_args=()
read -r -a keywords <<<"$(sed -n 's/^keywords *= *//p' babel.cfg | head -n 1)"
if [ ${#keywords[@]} -eq 0 ]; then
  echo "babel.cfg has no 'keywords = …' line" >&2
  exit 2
fi
for keyword in "${keywords[@]}"; do
  keyword_args+=(--keyword "$keyword")
done

extract() {
  # Locations stay in the template (a translator sees where a string is used);
  # "Translators:" comments in the code are passed on to the .po.
  "$PYBABEL" --quiet extract --mapping-file babel.cfg --no-default-keywords \
    "${keyword_args[@]}" --add-comments Translators: --project Parvis --version "$VERSION" \
    --copyright-holder "the Parvis contributors" --output-file "$1" .
}

# Compares the extracted template with the English catalogue and its compiled .mo.
check() {
  "$PYTHON" - "$1" "$PO" "$MO" <<'PY'
import os
import re
import sys

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

pot_path, po_path, mo_path = sys.argv[1:]


def where(message):
    return ", ".join(f"{path}:{line}" for path, line in message.locations) or "?"


def show(message):
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    context = f" [context {message.context!r}]" if message.context else ""
    return f"{msgid!r}{context} ({where(message)})"


with open(pot_path, "rb") as f:
    template = read_po(f)
if not os.path.exists(po_path):
    print(f"{po_path} does not exist: run scripts/messages.sh")
    sys.exit(1)
with open(po_path, "rb") as f:
    catalog = read_po(f, locale="en")

problems = []
for message in template:
    if not message.id:
        continue
    entry = catalog.get(message.id, message.context)
    if entry is None:
        problems.append(f"missing from {po_path}: {show(message)}")
        continue
    strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
    if isinstance(message.id, tuple) != isinstance(entry.id, tuple):
        problems.append(f"singular/plural mismatch, run scripts/messages.sh: {show(message)}")
    elif not all(strings):
        problems.append(f"untranslated: {show(message)}")
    elif entry.fuzzy:
        problems.append(f"fuzzy (review the English, then remove the flag): {show(message)}")

# Placeholders (%(name)s…) must survive translation unchanged, or the page raises at
# render time (Jinja's newstyle gettext formats every string, even without arguments).
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")


def placeholders(text):
    return sorted(m.group(0) for m in PLACEHOLDER.finditer(text) if m.group(0) != "%%")


for message in catalog:
    if not message.id or not message.string:
        continue
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    allowed = {p for msgid in ids for p in placeholders(msgid)}
    for string in strings:
        if not string:
            continue
        found = placeholders(string)
        if len(ids) == 1 and found != placeholders(ids[0]):
            problems.append(
                f"placeholders {found} instead of {placeholders(ids[0])}: {show(message)}"
            )
        elif len(ids) > 1 and not set(found) <= allowed:
            problems.append(f"unknown placeholders {sorted(set(found) - allowed)}: {show(message)}")
for message, errors in catalog.check():
    for error in errors:
        problems.append(f"bad translation of {show(message)}: {error}")

if not problems:
    expected = {
        (m.context, m.id): m.string
        for m in catalog
        if m.id and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else (m.string,))
    }
    compiled = {}
    if os.path.exists(mo_path):
        with open(mo_path, "rb") as f:
            for m in read_mo(f):
                # read_mo gives plural forms as lists, read_po as tuples.
                msgid = tuple(m.id) if isinstance(m.id, list) else m.id
                string = tuple(m.string) if isinstance(m.string, list) else m.string
                if msgid:
                    compiled[(m.context, msgid)] = string
    if compiled != expected:
        problems.append(f"{mo_path} is out of date with {po_path}: run scripts/messages.sh")

if problems:
    print(f"{len(problems)} translation problem(s) in English:")
    for problem in problems:
        print(f"  - {problem}")
    sys.exit(1)
print(f"English translation complete: {len(expected)} messages.")
PY
}

if [ "$mode" = check ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  extract "$tmp/$DOMAIN.pot"
  check "$tmp/$DOMAIN.pot"
  exit
fi

# Extract; keep the old template when only its POT-Creation-Date would change.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
extract "$tmp/$DOMAIN.pot"
if [ -f "$POT" ] && cmp -s <(grep -v '^"POT-Creation-Date:' "$POT") \
  <(grep -v '^"POT-Creation-Date:' "$tmp/$DOMAIN.pot"); then
  echo "$POT unchanged"
else
  mkdir -p "$LOCALE_DIR"
  cp "$tmp/$DOMAIN.pot" "$POT"
  echo "wrote $POT"
fi

if [ -f "$PO" ]; then
  # New msgids close to an old one get its English as a fuzzy suggestion (with the
  # previous msgid): fuzzy entries are not compiled, and --check lists them for review.
  "$PYBABEL" --quiet update --domain "$DOMAIN" --input-file "$POT" --output-dir "$LOCALE_DIR" \
    --locale en --previous --ignore-pot-creation-date
  echo "updated $PO"
else
  "$PYBABEL" --quiet init --domain "$DOMAIN" --input-file "$POT" --output-dir "$LOCALE_DIR" \
    --locale en
  echo "created $PO"
fi

# Only translated, non-fuzzy messages are compiled; the others fall back to French.
"$PYBABEL" compile --domain "$DOMAIN" --directory "$LOCALE_DIR" --locale en --statistics

# Say what is left to translate, without failing: that is --check's job.
check "$POT" || true
