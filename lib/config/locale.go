package config

import "strings"

// normalLocale spells a locale's codeset as Debian's list of locales
// (/usr/share/i18n/SUPPORTED) does: glibc itself takes en_US.utf8,
// en_US.UTF8 or en_US.UTF-8 alike, and hosts such as Fedora and Arch set
// LANG to the first, but a guest generates only the locales that list
// names, and it names en_US.UTF-8. Other codesets are left as they are;
// a spelling the list lacks is refused when the base is built.
func normalLocale(name string) string {
	rest, modifier, hasModifier := strings.Cut(name, "@")
	language, codeset, hasCodeset := strings.Cut(rest, ".")
	if !hasCodeset || !isUTF8(codeset) {
		return name
	}
	name = language + ".UTF-8"
	if hasModifier {
		name += "@" + modifier
	}
	return name
}

// isUTF8 compares a codeset name as glibc does: letters in either case,
// anything but letters and digits ignored.
func isUTF8(codeset string) bool {
	var folded []byte
	for i := 0; i < len(codeset); i++ {
		switch c := codeset[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			folded = append(folded, c)
		case 'A' <= c && c <= 'Z':
			folded = append(folded, c-'A'+'a')
		}
	}
	return string(folded) == "utf8"
}
