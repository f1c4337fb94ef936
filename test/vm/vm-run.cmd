@echo off
rem Runs on the VM for make vm-test, from the folder it copied there: the preconditions, a first
rem load of the driver (and the evidence when it does not load), the end-to-end suite. What it
rem finds goes to results\. Exit status: 0 the suite passed, 1 it failed, 2 a precondition
rem does not hold, 3 the driver did not load.
setlocal
cd /d "%~dp0"
if exist results rmdir /s /q results
mkdir results

echo vm-run: preconditions (elevated, test signing, Secure Boot)
bin\@CTL@ doctor --preflight > results\preflight.txt 2>&1
if errorlevel 1 goto precondition
type results\preflight.txt

echo vm-run: installing and starting the driver
bin\@CTL@ uninstall > nul 2>&1
bin\@CTL@ install "%CD%\bin\@SYS@" > results\load.txt 2>&1
if errorlevel 1 goto noload
bin\@CTL@ start >> results\load.txt 2>&1
if errorlevel 1 goto noload
bin\@CTL@ stop >> results\load.txt 2>&1
bin\@CTL@ uninstall >> results\load.txt 2>&1
type results\load.txt

rem Under Wine (the stand-in VM) the driver's DbgPrint lines land in a file; on Windows they go
rem to the kernel debugger, and the suite skips what only that log could show.
echo vm-run: the end-to-end suite
if not defined SANCTUM_DBGPRINT_LOG set SANCTUM_DBGPRINT_LOG=-
sanctum-e2e.exe e2e vm "%CD%\bin" "%SANCTUM_DBGPRINT_LOG%" > results\e2e.txt 2>&1
if errorlevel 1 goto suitefailed
type results\e2e.txt
exit /b 0

:suitefailed
type results\e2e.txt
exit /b 1

:precondition
type results\preflight.txt
echo vm-run: a precondition does not hold: fix the PROBLEM lines above on the VM
exit /b 2

:noload
type results\load.txt
echo vm-run: the driver did not load; the evidence follows and is in results\evidence.txt
call :evidence > results\evidence.txt 2>&1
type results\evidence.txt
bin\@CTL@ uninstall > nul 2>&1
exit /b 3

:evidence
echo == sc query @SERVICE@
sc query @SERVICE@
echo == sc qc @SERVICE@
sc qc @SERVICE@
echo == @CTL@ doctor: the service, the code integrity log for @SYS@, Secure Boot, memory integrity
bin\@CTL@ doctor --cert bin\@CER@
echo == the latest events of Microsoft-Windows-CodeIntegrity/Operational
wevtutil qe Microsoft-Windows-CodeIntegrity/Operational /c:10 /rd:true /f:text
echo == the System log's latest events about the service
wevtutil qe System /c:10 /rd:true /f:text /q:"*[EventData[Data='@DISPLAY@' or Data='@SERVICE@']]"
exit /b 0
