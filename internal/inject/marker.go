package inject

import "bytes"

// containsMarker is bytes.Contains(b, m) for a non-empty m, fast when the
// answer is no, as it nearly always is. bytes.Index stops wherever the
// first byte of m occurs and checks there; a marker's first byte is often
// '/' or a common letter, met every few bytes in a head, so most of its
// time went to false starts. containsMarker looks instead for the tail of
// m that begins at its rarest byte (rarestByte), which a page without the
// marker seldom holds at all, and checks the bytes before each place the
// tail is found.
func containsMarker(b, m []byte) bool {
	if len(b) < len(m) {
		return false
	}
	k := rarestByte(m)
	head, tail := m[:k], m[k:]
	for i := k; ; {
		j := bytes.Index(b[i:], tail)
		if j < 0 {
			return false
		}
		i += j // tail is at b[i:], so m would start at i-k
		if bytes.Equal(b[i-k:i], head) {
			return true
		}
		i++
	}
}

// rarestByte returns the index in the first half of m (so that the tail
// containsMarker looks for is at least as long as the rest it checks) of
// the byte that is rarest in HTML, the first of equally rare ones.
func rarestByte(m []byte) int {
	best := 0
	for i := 1; i <= len(m)/2; i++ {
		if rarity(m[i]) > rarity(m[best]) {
			best = i
		}
	}
	return best
}

// asciiRarity ranks each ASCII byte by how seldom it appears in the head
// of an HTML page, from '0' (white space, markup, the commonest lower-case
// letters) to '3' (controls and punctuation hardly used): a rough guide for
// rarestByte, not a measurement. One row per 16 bytes.
const asciiRarity = "" +
	"3333333330030033" + // controls; \t \n \f \r
	"3333333333333333" + // controls
	"0302322122321000" + // ' ' ! " # $ % & ' ( ) * + , - . /
	"1111111111010002" + // 0-9 : ; < = > ?
	"3222222222222222" + // @ A-O
	"2222222222233332" + // P-Z [ \ ] ^ _
	"3010001100220000" + // ` a-o
	"0200001121223233" //  p-z { | } ~ DEL

// rarity is the rank of c in asciiRarity; bytes outside ASCII are among
// the rarest.
func rarity(c byte) byte {
	if c >= 0x80 {
		return 3
	}
	return asciiRarity[c] - '0'
}
