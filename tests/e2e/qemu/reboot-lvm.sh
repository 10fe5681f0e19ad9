#!/bin/bash
# LVM volumes survive a reboot: two boots of the QEMU guest over the same NVDIMM backing files.
# The first boot makes LVM volumes, writes data through DAX mounts and is powered off with the
# filesystems still mounted; the second finds the volumes from lvm's tags, mounts them and checks
# the data (device-lvm's LvmRebootGuestTest). About 5 minutes under TCG.
#
#   tests/e2e/qemu/reboot-lvm.sh            builds nothing: run after mvn package (E2E_BUILD=0 is implied)
#
# Output in E2E_OUT (default tests/e2e/target/reboot-lvm): boot1/ and boot2/, each a run.sh output.
# Other knobs of run.sh (E2E_PORT, E2E_TIMEOUT, ...) pass through. Needs root.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${E2E_OUT:-$repo/tests/e2e/target/reboot-lvm}
[[ $(id -u) == 0 ]] || { echo "reboot-lvm.sh needs root" >&2; exit 2; }
[[ $out == /* ]] || out=$PWD/$out
# Only ever delete a directory this script made.
if [[ -e $out && ! -f $out/.reboot-lvm-out ]]; then
    echo "$out exists and was not made by reboot-lvm.sh; refusing to reuse it" >&2
    exit 2
fi
rm -rf "$out"
mkdir -p "$out"
touch "$out/.reboot-lvm-out"
# The second boot reads the manifest through the guest's read-only view of the host's root.
manifest=$out/boot1/guest/reboot-manifest
common=(E2E_BUILD=0 E2E_SELF_TEST=0 E2E_SHAPE=labelled E2E_STEPS=guest-tests
        "E2E_GUEST_TESTS=.*\\.LvmRebootGuestTest\$" "E2E_REBOOT_MANIFEST=$manifest")

echo "== reboot-lvm: first boot (write, then power off under the mounts)"
env "${common[@]}" E2E_OUT="$out/boot1" E2E_KEEP_IMAGES=1 E2E_REBOOT_PHASE=write "$here/run.sh"
[[ -s $manifest ]] || { echo "reboot-lvm: the first boot wrote no manifest ($manifest)" >&2; exit 1; }

echo "== reboot-lvm: second boot (verify)"
env "${common[@]}" E2E_OUT="$out/boot2" E2E_IMAGES_FROM="$out/boot1/nvdimm" E2E_REBOOT_PHASE=verify "$here/run.sh"
echo "== reboot-lvm: PASSED (results in $out)"
