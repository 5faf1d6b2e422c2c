package sdktest

import (
	"slices"
	"testing"
)

func TestUnmasked(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		payload string
		values  []string
		want    []string
	}{
		"under personal keys": {`{"name":"张三丰","patient":{"idNumber":"350203199001011234"},"contacts":[{"phone":"13812345678"}]}`,
			[]string{"张三丰", "350203199001011234", "13812345678"}, nil},
		"inside a personal object": {`{"patientName":{"family":"张","given":"三丰"}}`, []string{"三丰"}, nil},
		"in a sentence":            {`{"greeting":"你好, 张三丰"}`, []string{"张三丰"}, []string{"$.greeting"}},
		"under other keys":         {`{"xm":"张三丰","patient":{"fullName":"张三丰"},"lines":["ok","by 张三丰"]}`, []string{"张三丰"}, []string{"$.lines[1]", "$.patient.fullName", "$.xm"}},
		"not quoted":               {`{"greeting":"你好"}`, []string{"张三丰"}, nil},
		"not JSON":                 {`你好, 张三丰`, []string{"张三丰"}, []string{"$"}},
		"empty value ignored":      {`{"greeting":"你好"}`, []string{""}, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := Unmasked([]byte(tc.payload), tc.values...); !slices.Equal(got, tc.want) {
				t.Errorf("Unmasked(%s) = %q, want %q", tc.payload, got, tc.want)
			}
		})
	}
}
