/*
 * Preloaded into QEMU by run-guest.sh.
 *
 * QEMU 7.2's usb-mtp converts file names between the host's bytes and MTP's UTF-16 with
 * mbstowcs()/wcstombs(), but QEMU never calls setlocale(), so it runs in the "C" locale
 * and every name with a non-ASCII byte reaches the guest as "Oops". Switching LC_CTYPE
 * to UTF-8 before main() lets the device serve the fixture's Unicode names as they are.
 * (Characters outside the BMP still cannot pass: the device writes each wchar_t as one
 * UTF-16 unit.)
 */
#include <locale.h>

__attribute__((constructor)) static void use_utf8_ctype(void)
{
    setlocale(LC_CTYPE, "C.UTF-8");
}
