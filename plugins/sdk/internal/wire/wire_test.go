package wire

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// windows reads the HTTP/2 frames a peer sends first on conn and returns
// the stream window of its SETTINGS and the connection window (65,535
// plus its first connection-level WINDOW_UPDATE).
func windows(t *testing.T, conn net.Conn) (stream, connWin uint32) {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fr := http2.NewFramer(conn, conn)
	stream, connWin = 65535, 65535
	sawSettings := false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if sawSettings {
				return stream, connWin
			}
			t.Fatalf("read the peer's HTTP/2 frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			sawSettings = true
			if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
				stream = v
			}
			if err := fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				return stream, connWin + f.Increment
			}
		}
	}
}

// TestServerWindows: the host's and the plugin's gRPC servers announce
// window for streams and the connection, so a 250 KB message is sent
// without waiting for window updates.
func TestServerWindows(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(nil)
	go func() { _ = s.Serve(ln) }()
	defer s.Stop()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := http2.NewFramer(conn, nil).WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if stream, connWin := windows(t, conn); stream != window || connWin != window {
		t.Errorf("the server announces windows of %d (stream) and %d (connection) bytes, want %d", stream, connWin, window)
	}
}

// TestDialWindows: the clients' connections (host to plugin, plugin to
// the host services) announce window too.
func TestDialWindows(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	opts := append(DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient(ln.Addr().String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = cc.Invoke(ctx, "/x.Y/Z", nil, nil) // makes the client connect
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := conn.Read(preface); err != nil || string(preface) != http2.ClientPreface {
		t.Fatalf("client preface %q, %v", preface, err)
	}
	if err := http2.NewFramer(conn, nil).WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if stream, connWin := windows(t, conn); stream != window || connWin != window {
		t.Errorf("the client announces windows of %d (stream) and %d (connection) bytes, want %d", stream, connWin, window)
	}
}
