package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/server"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/token"
)

// cmdToken mints a token with the config's SDK key and secret, for
// debugging a front-end or the agent desk.
func cmdToken(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "path to the YAML config file (required)")
	role := fs.Int("role", 1, "1 (customer) or 2 (agent)")
	userID := fs.String("user-id", "", "user_id claim (default: random)")
	userName := fs.String("user-name", "", "user_name claim, at most 80 characters (default: the user id)")
	ttl := fs.Duration("ttl", 0, "lifetime, 30m..48h (default: token.ttl from the config)")
	byop := fs.Bool("byop", false, "add enable_byop: 1 (customer tokens, bring your own PIN)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return usageError{"-config FILE is required"}
	}
	if *role != 1 && *role != 2 {
		return usageError{fmt.Sprintf("-role %d: must be 1 (customer) or 2 (agent)", *role)}
	}
	if *ttl != 0 {
		if err := token.CheckTTL(*ttl); err != nil {
			return usageError{fmt.Sprintf("-ttl %s: %v", *ttl, err)}
		}
	}
	cfg, err := config.Load(*path, os.LookupEnv)
	if err != nil {
		printConfigErrors(stderr, *path, err)
		return errReported
	}
	if cfg.Zoom.SDKSecret == "" && cfg.Zoom.SDKSecretFile == "" {
		return fmt.Errorf("%s has no SDK secret to sign with: set zoom.sdkSecretFile (a file holding it) or zoom.sdkSecret (e.g. sdkSecret: ${ZOOM_SDK_SECRET})", *path)
	}
	secret := server.SecretSource(cfg)
	if *ttl == 0 {
		*ttl = cfg.Token.TTL
	}
	if *userID == "" {
		*userID = token.NewUserID()
	}
	m := token.NewMinter(cfg.Zoom.SDKKey, secret, time.Now)
	tok, exp, err := m.Mint(token.Claims{
		Role: token.Role(*role), UserID: *userID, UserName: *userName, TTL: *ttl, BYOP: *byop && *role == 1,
	})
	if errors.Is(err, token.ErrNoSecret) {
		return fmt.Errorf("%w: put the secret in zoom.sdkSecretFile or zoom.sdkSecret", err)
	}
	if err != nil {
		return err // already "mint token: ..."
	}
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "role %d, user_id %q, expires %s\n", *role, *userID, exp.UTC().Format(time.RFC3339))
	return nil
}

// cmdHashKey prints the SHA-256 hash of an agent access key, the form in
// which keys are stored in the config (token.agent.keys[].hash).
func cmdHashKey(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hash-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	generate := fs.Bool("generate", false, "generate a new random key and print it with its hash")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		// Never hash a key given as an argument: it would be in the shell
		// history and in every process listing.
		return usageError{"takes no key argument, to keep keys out of shell history: pipe the key in on standard input (e.g. read -rs KEY; printf '%s\\n' \"$KEY\" | cobrowse-proxy hash-key), or use -generate"}
	}
	if *generate {
		key := token.GenerateKey()
		fmt.Fprintf(stdout, "key:  %s\nhash: %s\n", key, token.HashKey(key))
		fmt.Fprintln(stderr, "Give the key to the agent; put only the hash in token.agent.keys.")
		return nil
	}
	fmt.Fprintln(stderr, "Reading the key from standard input (one line)...")
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read key: %w", err)
	}
	key := strings.TrimSpace(line)
	if key == "" {
		return usageError{"no key on standard input; pipe one in, or use -generate"}
	}
	fmt.Fprintln(stdout, token.HashKey(key))
	return nil
}
