package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Size is a disk size in bytes.
type Size int64

// sizeSuffixes are qemu-img's, in order of the power of 1024 they stand for.
const sizeSuffixes = "KMGT"

// ParseSize reads a size as qemu-img takes it, a whole number of bytes with
// an optional K, M, G or T suffix (powers of 1024), and accepts the suffix in
// lower case too: people write 24g as often as 24G.
func ParseSize(s string) (Size, error) {
	digits, shift := s, 0
	if n := len(s); n > 0 {
		if i := strings.IndexByte(sizeSuffixes, upper(s[n-1])); i >= 0 {
			digits, shift = s[:n-1], 10*(i+1)
		}
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v <= 0 || digits[0] == '+' || digits[0] == '0' || v > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a size such as 24G", s)
	}
	return Size(v << shift), nil
}

// String spells the size as qemu-img takes it, with the largest suffix that
// divides it: 24G, 1536M, 4096.
func (s Size) String() string {
	v, suffix := int64(s), ""
	for i := 0; i < len(sizeSuffixes) && v != 0 && v%1024 == 0; i++ {
		v, suffix = v/1024, sizeSuffixes[i:i+1]
	}
	return strconv.FormatInt(v, 10) + suffix
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
