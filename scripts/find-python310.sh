#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter, or fail with a reason.
# pyenv puts a `python3.10` shim on PATH that only works when 3.10 is the selected
# version, so fall back to asking pyenv for the installed 3.10 directly.
set -u
is310() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; }
if command -v python3.10 >/dev/null 2>&1 && is310 python3.10; then
  command -v python3.10; exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
  v=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -V | tail -n 1)
  if [ -n "$v" ] && is310 "$(pyenv root)/versions/$v/bin/python3.10"; then
    echo "$(pyenv root)/versions/$v/bin/python3.10"; exit 0
  fi
fi
for p in /usr/bin/python3.10 /usr/local/bin/python3.10; do
  if [ -x "$p" ] && is310 "$p"; then echo "$p"; exit 0; fi
done
echo "Python 3.10 not found: Rasa 3.6 needs it (install it with pyenv or your package manager)" >&2
exit 1
