package gen

import (
	"math/rand/v2"
	"slices"
	"time"
)

// PersonIDLen is the length of a person id: 17 digits and a check character.
const PersonIDLen = 18

// idWeights are the ISO 7064 MOD 11-2 weights 2^(17-i) mod 11 of the first
// 17 characters of a Chinese resident identity number (GB 11643-1999).
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// checkChars maps the weighted sum mod 11 to the check character.
const checkChars = "10X98765432"

// CheckChar returns the ISO 7064 MOD 11-2 check character ('0'..'9' or
// 'X') of the 17-digit body of an identity number, and false if body is
// not 17 ASCII digits.
func CheckChar(body string) (byte, bool) {
	if len(body) != 17 {
		return 0, false
	}
	sum := 0
	for i := range 17 {
		c := body[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		sum += int(c-'0') * idWeights[i]
	}
	return checkChars[sum%11], true
}

// ValidPersonID reports whether id has the form of a Chinese resident
// identity number: 6-digit region, 8-digit birth date YYYYMMDD that exists
// in the calendar, 3-digit sequence and a correct check character.
func ValidPersonID(id string) bool {
	if len(id) != PersonIDLen {
		return false
	}
	want, ok := CheckChar(id[:17])
	if !ok || id[17] != want {
		return false
	}
	y, m, d := atoi(id[6:10]), atoi(id[10:12]), atoi(id[12:14])
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return t.Year() == y && int(t.Month()) == m && t.Day() == d
}

func atoi(s string) int {
	n := 0
	for i := range len(s) {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// regions are real 6-digit county-level administrative codes of large
// cities (Beijing, Shanghai, Guangzhou, Shenzhen, Hangzhou, Nanjing,
// Chengdu, Wuhan, Xi'an, Chongqing, Tianjin, Jinan, Fuzhou, Changsha,
// Zhengzhou).
var regions = [...]uint64{
	110101, 110102, 110105, 110106, 110108,
	310101, 310104, 310115,
	440103, 440104, 440106, 440303, 440304, 440305,
	330102, 330106, 320102, 320106,
	510104, 510107, 420102, 420106, 610102, 610113,
	500103, 120101, 370102, 350102, 430102, 410105,
}

// Birth dates span the adult population.
var (
	firstBirthDay = time.Date(1945, 1, 1, 0, 0, 0, 0, time.UTC)
	lastBirthDay  = time.Date(2006, 12, 31, 0, 0, 0, 0, time.UTC)
)

// birthDates lists every date from firstBirthDay to lastBirthDay as the
// number YYYYMMDD.
func birthDates() []uint64 {
	var out []uint64
	for d := firstBirthDay; !d.After(lastBirthDay); d = d.AddDate(0, 0, 1) {
		out = append(out, uint64(d.Year()*10000+int(d.Month())*100+d.Day()))
	}
	return out
}

// personBodies draws n distinct 17-digit id bodies (region, birth date,
// sequence 001..999), returned in ascending order.
func personBodies(n int, r *rand.Rand) []uint64 {
	dates := birthDates()
	draw := func() uint64 {
		region := regions[r.IntN(len(regions))]
		date := dates[r.IntN(len(dates))]
		seq := uint64(1 + r.IntN(999))
		return region*100_000_000_000 + date*1000 + seq
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = draw()
	}
	for {
		slices.Sort(out)
		dups := 0
		for i := 1; i < len(out); i++ {
			if out[i] == out[i-1] {
				out[i-1] = draw()
				dups++
			}
		}
		if dups == 0 {
			return out
		}
	}
}

// appendPersonID appends the 18-character id with the given body.
func appendPersonID(dst []byte, body uint64) []byte {
	var b [PersonIDLen]byte
	sum := 0
	for i := 16; i >= 0; i-- {
		d := int(body % 10)
		body /= 10
		b[i] = byte('0' + d)
		sum += d * idWeights[i]
	}
	b[17] = checkChars[sum%11]
	return append(dst, b[:]...)
}
