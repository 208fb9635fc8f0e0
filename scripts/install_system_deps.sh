#!/usr/bin/env bash
# Install the system packages sbr's tools and tests need:
#   pdflatex (texlive-latex-base) and booktabs (texlive-latex-recommended) for `sbr report`;
#   the shellcheck linter for the cluster scripts' lint test;
#   chromium and chromium-driver (Debian's) for the browser test of `sbr ui`.
#
# Idempotent: does nothing when all of them are already there.
# Debian/Ubuntu only (apt-get); runs apt-get through sudo when not root.
set -euo pipefail

have_latex() {
    command -v pdflatex >/dev/null 2>&1 && command -v kpsewhich >/dev/null 2>&1 \
        && kpsewhich booktabs.sty >/dev/null 2>&1
}

have_chromium() {
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
}

have_all() {
    have_latex && command -v shellcheck >/dev/null 2>&1 && have_chromium
}

if have_all; then
    echo "install_system_deps: pdflatex, booktabs, shellcheck and chromium already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_system_deps: apt-get is not available; install a TeX distribution with" \
        "pdflatex and booktabs, shellcheck, and chromium with its driver, by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
    texlive-latex-base \
    texlive-latex-recommended \
    texlive-fonts-recommended \
    shellcheck \
    chromium \
    chromium-driver

if ! have_all; then
    echo "install_system_deps: installed, but pdflatex/booktabs/shellcheck/chromium" \
        "still not found" >&2
    exit 1
fi
echo "install_system_deps: done ($(pdflatex --version | head -n 1); $(chromium --version))"
