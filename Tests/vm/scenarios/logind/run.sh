#!/bin/bash
# logind on a real systemd host: the D-Bus client's inhibitor tests from the host-built test
# bundle, then a real `systemctl poweroff` that must wait for our delay lock (the VM goes down).
# Expects bin/swiftletPackageTests.xctest in the share.
source "$VM_SHARE/lib/guest.sh"
systemctl start systemd-logind.service
fact logind_active "$(systemctl is-active systemd-logind.service)"
run_swift_tests inhibitor 'LogindInhibitorRootTests'
expect_poweroff
export SWIFTLET_VM_POWEROFF_TEST=1
run_swift_tests poweroff 'LogindPoweroffVMTests'
# Reaching this line means the poweroff never happened.
fact poweroff_returned 1
exit 1
