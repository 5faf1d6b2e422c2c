package adapter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/smenvelope"
)

// Commands of the work-injury plugin, run as `medgate workinjury <command>`.
const (
	CmdPing       = "ping"
	CmdImportKeys = "import-keys"
)

// commands declares the plugin's command-line verbs.
func commands() []sdk.Command {
	return []sdk.Command{
		{
			Name:      CmdPing,
			Summary:   "连通性测试（GYU000）connectivity test (GYU000) through the running medgate",
			Operation: Name + ".GYU000",
			Arguments: []sdk.Argument{{Name: "echo_text", Type: sdk.SettingString, Default: "medgate ping", Description: "工伤系统原样返回的文字 text the national system echoes"}},
			Result:    sdk.Display{Fields: []sdk.Column{{Field: "aae036", Title: "国家系统时间 national system time"}}},
		},
		{
			Name:    CmdImportKeys,
			Summary: "导入从工伤保险异地就医系统下载的 SM2 密钥对 import the SM2 keys downloaded from the national system into the site's keyDir",
			Description: `把工作人员从国家系统下载的本机构私钥和国家系统公钥，以规范的 PEM 格式写入站点的
keyDir（私钥权限 0600）。密钥内容不离开本机、从不打印，只打印公钥指纹。运行中的 medgate
在 keyReloadInterval 内启用新密钥。

Writes our private key and the national system's public key, as staff downloaded
them, into the site's keyDir in canonical PEM (the private key with mode 0600).
Key material never leaves this machine and is never printed, only public-key
fingerprints. A running medgate picks the new keys up within keyReloadInterval.`,
			Local: true,
			Arguments: []sdk.Argument{
				{Name: "private", Type: sdk.SettingPath, Description: "本机构私钥文件 our private key file: PEM (PKCS#8 or SEC1), DER, hex or raw"},
				{Name: "peer-public", Type: sdk.SettingPath, Description: "工伤系统公钥文件 the national system's public key file: PEM, certificate, DER, hex or raw"},
				{Name: "password", Type: sdk.SettingSecret, Description: `加密私钥的口令，写作 "env:VARIABLE" 或 "file:/path" password of an encrypted private key`},
			},
		},
	}
}

// RunCommand implements sdk.CommandRunner.
func (a *Adapter) RunCommand(_ context.Context, req *sdk.RunCommandRequest) (*sdk.RunCommandResponse, error) {
	if req.Command != CmdImportKeys {
		return nil, fmt.Errorf("workinjury runs no local command %q; it has %s", req.Command, CmdImportKeys)
	}
	return importKeys(req.Settings, req.Arguments), nil
}

// importKeys writes the key files named by args into the key directory of
// settings and reports the fingerprints.
func importKeys(settings, args map[string]string) *sdk.RunCommandResponse {
	var out strings.Builder
	r := &sdk.RunCommandResponse{}
	fail := func(field, summary, detail string) *sdk.RunCommandResponse {
		r.Diagnostics.Error(field, "import", summary, detail)
		r.Output = out.String()
		return r
	}
	priv, pub := args["private"], args["peer-public"]
	if priv == "" && pub == "" {
		return fail("", "no key file given", "give -private FILE and/or -peer-public FILE, the key files downloaded from the national system")
	}
	dir := settings[setKeyDir]
	if dir == "" {
		return fail(setKeyDir, "the site has no keyDir setting", "set keyDir in the site's workinjury settings")
	}
	privName, pubName := smenvelope.DefaultPrivateKeyFile, smenvelope.DefaultPeerPublicKeyFile
	if v := settings[setPrivateKeyFile]; v != "" {
		privName = v
	}
	if v := settings[setPeerPublicKeyFile]; v != "" {
		pubName = v
	}
	join := func(name string) string {
		if filepath.IsAbs(name) {
			return name
		}
		return filepath.Join(dir, name)
	}
	if priv != "" {
		src, err := os.ReadFile(priv)
		if err != nil {
			return fail("private", "cannot read the private key", err.Error())
		}
		defer clear(src)
		pw := []byte(args["password"])
		defer clear(pw)
		dst := join(privName)
		if err := smenvelope.ImportKeyWithPassword(src, pw, smenvelope.KindPrivate, dst); err != nil {
			if errors.Is(err, smenvelope.ErrEncryptedKey) {
				return fail("password", err.Error(), `give its password with -password env:VARIABLE (or file:/path)`)
			}
			return fail("private", "cannot import the private key", err.Error())
		}
		k, err := smenvelope.LoadPrivateKeyFile(dst, nil)
		if err != nil {
			return fail("private", "the written private key does not load", err.Error())
		}
		fmt.Fprintf(&out, "imported our private key (public key %s) into %s (mode 0600)\n", smenvelope.Fingerprint(&k.PublicKey), dst)
	}
	if pub != "" {
		src, err := os.ReadFile(pub)
		if err != nil {
			return fail("peer-public", "cannot read the national public key", err.Error())
		}
		dst := join(pubName)
		if err := smenvelope.ImportKey(src, smenvelope.KindPublic, dst); err != nil {
			return fail("peer-public", "cannot import the national public key", err.Error())
		}
		k, err := smenvelope.LoadPublicKeyFile(dst)
		if err != nil {
			return fail("peer-public", "the written public key does not load", err.Error())
		}
		fmt.Fprintf(&out, "imported the national public key %s into %s\n", smenvelope.Fingerprint(k), dst)
	}
	out.WriteString("a running medgate picks the new keys up within the keyReloadInterval setting (default 10s); no restart is needed\n")
	r.Output = out.String()
	return r
}

var _ sdk.CommandRunner = (*Adapter)(nil)
