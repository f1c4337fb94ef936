@echo off
rem @DISPLAY@ @VERSION@: trust the test certificate, install and start the driver.
rem Run as administrator in a test-signing VM. See INSTALL.txt.
setlocal
cd /d "%~dp0"

rem Elevated, test signing on: doctor --preflight prints both and fails if either is not.
rem (Each step is checked with "if errorlevel", which every cmd.exe, Wine's too, gets right.)
@CTL@ doctor --preflight
if errorlevel 1 exit /b 1

@CTL@ trust-cert @DRIVER@-test.cer
if errorlevel 1 exit /b 1
rem A driver from an earlier run is replaced: stopped, removed, installed from this folder.
@CTL@ uninstall >nul 2>&1
@CTL@ install @SYS@
if errorlevel 1 exit /b 1
@CTL@ start
if errorlevel 1 exit /b 1
@CTL@ version
if errorlevel 1 exit /b 1
@CTL@ doctor --cert @DRIVER@-test.cer
