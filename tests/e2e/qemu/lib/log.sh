# shellcheck shell=bash
log() { echo "[e2e $(date +%T)] $*"; }
warn() { echo "[e2e $(date +%T)] WARNING: $*" >&2; }
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
