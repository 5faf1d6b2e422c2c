package card_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
)

func Example() {
	rule := card.NumberRule{Prefix: "8801", Width: 10, CheckDigit: card.CheckMod11_2, TempPrefixes: []string{"99"}}
	cardNo, err := rule.Format(3) // the sequence comes from the store's atomic counter
	if err != nil {
		panic(err)
	}

	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key := card.Key{ID: "A", Secret: [16]byte{0x3c, 0x91, 0x5e, 0x07, 0xa2, 0x44, 0xd8, 0x1f, 0x6b, 0xe0, 0x29, 0x73, 0xc5, 0x0a, 0x9d, 0x58}}
	s, err := card.NewSealer([]card.Key{key}, "A", clock)
	if err != nil {
		panic(err)
	}
	text, expires, err := s.Seal(cardNo, 0) // default validity: 3 days
	if err != nil {
		panic(err)
	}
	claims, err := s.Open(text)
	fmt.Println(cardNo, claims.CardNo, err, len(text) <= 85)

	label := card.Label(cardNo, "欧阳娜娜", expires, nil)
	fmt.Println(label.Name, label.ValidUntil)

	now = expires
	_, err = s.Open(text)
	var expired *card.ExpiredError
	fmt.Println(errors.Is(err, card.ErrExpired), errors.As(err, &expired) && expired.ExpiresAt.Equal(expires))

	_, err = s.Open("11010519491231002X")
	fmt.Println(errors.Is(err, card.ErrNotECard), card.Classify("11010519491231002X"))
	// Output:
	// 88010000000003X 88010000000003X <nil> true
	// 欧**娜 有效期至 2026-11-29 20:00
	// true true
	// true resident ID number (居民身份证号)
}
