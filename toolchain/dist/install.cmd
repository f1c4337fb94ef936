@echo off
rem @DISPLAY@ @VERSION@: trust the test certificate, install and start the driver.
rem Run as administrator in a test-signing VM. See INSTALL.txt.
setlocal
cd /d "%~dp0"

net session >nul 2>&1
if errorlevel 1 (
    echo install.cmd: run this as administrator: right-click it, "Run as administrator".
    exit /b 1
)

rem doctor's test-signing line says PROBLEM when Windows will refuse a test-signed driver.
@CTL@ doctor --cert @DRIVER@-test.cer | findstr /r /c:"^PROBLEM *test signing" >nul
if not errorlevel 1 (
    echo install.cmd: test signing is off. Run: bcdedit /set testsigning on
    echo             then reboot and run this again. Secure Boot must be off in the VM.
    exit /b 1
)

@CTL@ trust-cert @DRIVER@-test.cer || exit /b 1
rem A driver from an earlier run is replaced: stopped, removed, installed from this folder.
@CTL@ uninstall >nul 2>&1
@CTL@ install @SYS@ || exit /b 1
@CTL@ start || exit /b 1
@CTL@ version || exit /b 1
@CTL@ doctor --cert @DRIVER@-test.cer
