package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mpcq/mpcq/internal/admin"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
)

// Default validities.
const (
	defaultCAValidity   = 10 * 365 * 24 * time.Hour
	defaultCertValidity = 365 * 24 * time.Hour
)

func caCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	var dir, name string
	var validity time.Duration
	initCmd := &cobra.Command{
		Use:   "init --dir CA_DIR --name NAME",
		Short: "Create the consortium CA (run once, by the CA admin)",
		Long: `Creates the consortium's certificate authority in CA_DIR: ca.pem, the CA
certificate every member trusts, and ca.key, its private key (mode 0600).
The key never leaves this machine: members send certificate requests
(mpcadm csr) and get back certificates (mpcadm sign). Keep CA_DIR on an
encrypted, backed-up disk, ideally offline. An existing CA is never
overwritten.`,
		Example: `  mpcadm ca init --dir /srv/mpcq-ca --name "City police pilot"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, err := admin.InitCA(dir, name, now(), validity)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "CA %q created, valid until %s\n  %s (give to every member)\n  %s (private, 0600: keep it here)\n",
				name, ca.Certificate().NotAfter.UTC().Format(time.RFC3339),
				filepath.Join(dir, admin.CACertFile), filepath.Join(dir, admin.CAKeyFile))
			return nil
		},
	}
	initCmd.Flags().StringVar(&dir, "dir", "", "directory for ca.pem and ca.key (created 0700)")
	initCmd.Flags().StringVar(&name, "name", "", "the consortium's name, the CA certificate's common name")
	initCmd.Flags().DurationVar(&validity, "validity", defaultCAValidity, "how long the CA is valid; certificates cannot outlive it")
	required(initCmd, "dir", "name")
	return group("ca", "Manage the consortium CA", "Commands of the CA admin: create the consortium CA.", initCmd)
}

func csrCmd(stdout io.Writer) *cobra.Command {
	var role, name, out string
	var groups, hosts []string
	cmd := &cobra.Command{
		Use:   "csr --role ROLE --name NAME --out DIR",
		Short: "Make your key and a certificate signing request (run where the key will live)",
		Long: `Run by each member on the machine where its key will live. Generates an
Ed25519 private key into DIR/key.pem (mode 0600; it never leaves DIR)
and a certificate signing request DIR/ROLE-NAME.csr carrying the
identity mpcq://ROLE/NAME, signed with that key.

Send the .csr file (only that file) to the CA admin, who runs mpcadm
sign and sends back cert.pem and the CA's ca.pem: put both into DIR.

Roles: party, coordinator, analyst, auditor, authorizer. Parties and the
coordinator need --host for every name or address others dial them at;
--group (analysts only) puts the analyst's teams into the certificate,
which parties' policies can name. An existing key is never overwritten:
to rotate, use a new DIR (see docs/operations.md).`,
		Example: `  mpcadm csr --role party --name bank --host bank.example.net --out /etc/mpcq/bank
  mpcadm csr --role analyst --name alice --group fraud --out ~/mpcq`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := admin.NewCSR(out, admin.Request{Role: pki.Role(role), Name: name, Groups: groups, Hosts: hosts})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "key: %s (private, 0600: stays here)\nrequest: %s (send it to the CA admin)\n", filepath.Join(out, admin.KeyFile), path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "party, coordinator, analyst, auditor or authorizer")
	f.StringVar(&name, "name", "", "the member's name: 1-64 of a-z, 0-9, '.', '_', '-' (a party's is its table's institution, e.g. bank)")
	f.StringSliceVar(&groups, "group", nil, "an analyst's group (repeat or separate with commas)")
	f.StringSliceVar(&hosts, "host", nil, "a DNS name or IP address this member is dialed at (repeat or separate with commas)")
	f.StringVar(&out, "out", "", "directory for key.pem and the request (created 0700)")
	required(cmd, "role", "name", "out")
	_ = cmd.RegisterFlagCompletionFunc("role", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var rs []string
		for _, r := range pki.Roles() {
			rs = append(rs, string(r))
		}
		return rs, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func signCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	var caDir, csrFile, out string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "sign --ca CA_DIR --csr FILE -o CERT",
		Short: "Check a certificate signing request and issue its certificate (CA admin)",
		Long: `Run by the CA admin. Checks the request: its signature (so whoever made
it holds the key and nothing changed on the way), exactly one identity
mpcq://ROLE/NAME with a known role and a valid name, groups only for an
analyst, hosts that are DNS names or IP addresses. Then issues the
certificate with the role, name, groups, hosts and public key of the
request, and writes it to CERT.

Check what it prints (or mpcadm show FILE beforehand) against what you
agreed with the member, then send CERT and CA_DIR/ca.pem back.`,
		Example: `  mpcadm sign --ca /srv/mpcq-ca --csr party-bank.csr --validity 8760h -o bank-cert.pem`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, err := admin.LoadCA(caDir)
			if err != nil {
				return err
			}
			cert, c, err := admin.Sign(ca, csrFile, now(), validity)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			if err := pki.WritePublic(out, cert); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "issued %s", c.Identity())
			if len(c.Groups) > 0 {
				fmt.Fprintf(stdout, " groups %s", strings.Join(c.Groups, ","))
			}
			if len(c.Hosts) > 0 {
				fmt.Fprintf(stdout, " hosts %s", strings.Join(c.Hosts, ","))
			}
			fmt.Fprintf(stdout, ", valid until %s\n  %s (send it back with %s)\n",
				now().Add(validity).UTC().Format(time.RFC3339), out, filepath.Join(caDir, admin.CACertFile))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&caDir, "ca", "", "the CA directory (mpcadm ca init)")
	f.StringVar(&csrFile, "csr", "", "the member's request (mpcadm csr)")
	f.DurationVar(&validity, "validity", defaultCertValidity, "how long the certificate is valid, e.g. 8760h (a year)")
	f.StringVarP(&out, "out", "o", "", "where to write the certificate")
	required(cmd, "ca", "csr", "out")
	return cmd
}

func showCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	var caFile string
	cmd := &cobra.Command{
		Use:   "show FILE",
		Short: "Print what a certificate signing request or a certificate says",
		Long: `Prints the identity, groups, hosts and (for a certificate) validity of a
request (.csr) or a certificate (PEM). A request is checked as mpcadm sign
checks it. With --ca, a certificate is also verified under the CA.`,
		Example: `  mpcadm show party-bank.csr
  mpcadm show --ca ca.pem /etc/mpcq/bank/cert.pem`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if strings.Contains(string(b), "CERTIFICATE REQUEST") {
				c, err := pki.ParseCSR(b)
				if err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				fmt.Fprintf(stdout, "request for %s\n  groups: %s\n  hosts: %s\n  signature: valid\n", c.Identity(), list(c.Groups), list(c.Hosts))
				return nil
			}
			cert, err := pki.ParseCertificate(b)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			id, err := pki.IdentityOf(cert)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			var hosts []string
			hosts = append(hosts, cert.DNSNames...)
			for _, ip := range cert.IPAddresses {
				hosts = append(hosts, ip.String())
			}
			fmt.Fprintf(stdout, "certificate of %s\n  groups: %s\n  hosts: %s\n  issuer: %s\n  valid: %s to %s\n", id, list(id.Groups), list(hosts),
				cert.Issuer.CommonName, cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
			if caFile != "" {
				caPEM, err := os.ReadFile(caFile)
				if err != nil {
					return err
				}
				if _, err := pki.VerifyCertificate(b, caPEM, now()); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "  verified under %s\n", caFile)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&caFile, "ca", "", "verify a certificate under this CA certificate (ca.pem)")
	return cmd
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func ledgerKeyCmd(stdout io.Writer) *cobra.Command {
	var name, out string
	cmd := &cobra.Command{
		Use:   "ledger-key --name ORIGIN --out DIR",
		Short: "Make the ledger's signing key (coordinator's operator)",
		Long: `Run by the coordinator's operator. Generates the ledger's checkpoint
signing key into DIR/ledger.key (mode 0600; give it to the coordinator
with mpcadm config coordinator --ledger-key) and its verifier key into
DIR/ledger.pub. ORIGIN names the log in every checkpoint, e.g.
city-police-pilot-ledger.

Send ledger.pub to every party (mpcadm config party --ledger-public-key)
and every auditor gets it in consortium.json.`,
		Example: `  mpcadm ledger-key --name city-police-pilot-ledger --out /etc/mpcq/coordinator`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vkey, err := admin.NewLedgerKey(out, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "ledger key: %s (private, 0600)\nverifier key: %s (in %s; send it to every party)\n",
				filepath.Join(out, admin.LedgerKeyFile), vkey, filepath.Join(out, admin.LedgerPubFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the ledger's origin name, e.g. city-police-pilot-ledger")
	cmd.Flags().StringVar(&out, "out", "", "directory for ledger.key and ledger.pub")
	required(cmd, "name", "out")
	return cmd
}

func witnessKeyCmd(stdout io.Writer) *cobra.Command {
	var party, out string
	cmd := &cobra.Command{
		Use:   "witness-key --party NAME --out DIR",
		Short: "Make a party's ledger cosigning key (each party, on its machine)",
		Long: `Run by each party on its own machine. Generates the party's ledger
cosigning (witness) key into DIR/witness.key (mode 0600; mpcadm config
party --witness-key) and its verifier key into DIR/witness.pub.

Send witness.pub to the coordinator's operator (mpcadm config coordinator
--witness NAME=FILE); auditors get it in consortium.json.`,
		Example: `  mpcadm witness-key --party bank --out /etc/mpcq/bank`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vkey, err := admin.NewWitnessKey(out, party)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "witness key: %s (private, 0600)\nverifier key: %s (in %s; send it to the coordinator's operator)\n",
				filepath.Join(out, admin.WitnessKeyFile), vkey, filepath.Join(out, admin.WitnessPubFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&party, "party", "", "the party's name, as in its certificate")
	cmd.Flags().StringVar(&out, "out", "", "directory for witness.key and witness.pub")
	required(cmd, "party", "out")
	return cmd
}

// orDefault returns v, or dir/name when v is empty.
func orDefault(v, dir, name string) string {
	if v != "" || dir == "" {
		return v
	}
	return filepath.Join(dir, name)
}

// writeJSON writes a config file (0644; it names paths and public keys).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return pki.WritePublic(path, append(b, '\n'))
}

func configCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	return group("config", "Write a daemon's config file", `Writes partyd's or coordinatord's complete config (docs/config.md), after
checking that the files it names belong together.`,
		configPartyCmd(stdout, now), configCoordinatorCmd(stdout, now))
}

func configPartyCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	var o admin.PartyOptions
	var dir, out string
	cmd := &cobra.Command{
		Use:   "party --name NAME --dir DIR --listen ADDR --csv FILE --schema FILE --ledger-public-key KEY --peer FILE...",
		Short: "Write a party's config (each party, on its machine)",
		Long: `Run by each party once its certificate (DIR/cert.pem), the CA's
certificate (DIR/ca.pem), its witness key (DIR/witness.key), the other
parties' certificates and the ledger's verifier key are at hand. Checks
them (the certificate is this party's, under the CA, and pairs with the
key; every peer is another party's certificate under the CA) and writes
DIR/config.json for partyd --config.

The policy (--policy, default DIR/policy.json) is kept if it exists and
otherwise written from a template:
  minimal  (default) every analyst may ask only noisy counts of the whole
           population (no column), ε at most 1 each, 10 per analyst per day
  warrant  every column; exact answers only under a warrant that allows
           them, noisy ones ε at most 1 each, 10 per analyst per day
Your data protection officer then edits it (docs/policy.md).

Paths are written absolute. Other fields take partyd's defaults.`,
		Example: `  mpcadm config party --name bank --dir /etc/mpcq/bank --listen 0.0.0.0:7101 \
    --data-dir /var/lib/mpcq/bank --csv /srv/mpcq/bank.csv --schema /etc/mpcq/bank.schema.json \
    --peer /etc/mpcq/peers/telecom.pem --peer /etc/mpcq/peers/utility.pem \
    --ledger-public-key /etc/mpcq/ledger.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.TLS.CA = orDefault(o.TLS.CA, dir, "ca.pem")
			o.TLS.Cert = orDefault(o.TLS.Cert, dir, admin.CertFile)
			o.TLS.Key = orDefault(o.TLS.Key, dir, admin.KeyFile)
			o.WitnessKey = orDefault(o.WitnessKey, dir, admin.WitnessKeyFile)
			o.Policy = orDefault(o.Policy, dir, "policy.json")
			o.DataDir = orDefault(o.DataDir, dir, "state")
			out = orDefault(out, dir, "config.json")
			if out == "" {
				return usageError{Err: fmt.Errorf("give --dir or -o")}
			}
			c, wrotePolicy, err := admin.PartyConfig(o, now())
			if err != nil {
				return err
			}
			if err := writeJSON(out, c); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "config: %s (run partyd --config %s)\n", out, out)
			if wrotePolicy {
				fmt.Fprintf(stdout, "policy: %s, from the %s template: have it reviewed (docs/policy.md)\n", c.Policy, orString(o.PolicyTemplate, admin.PolicyMinimal))
			} else {
				fmt.Fprintf(stdout, "policy: %s (kept)\n", c.Policy)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "the party's name, as in its certificate")
	f.StringVar(&dir, "dir", "", "the party's directory: default place of ca.pem, cert.pem, key.pem, witness.key, policy.json, state/ and config.json")
	f.StringVar(&o.Listen, "listen", "", "host:port partyd listens on, e.g. 0.0.0.0:7101")
	f.StringVar(&o.DataDir, "data-dir", "", "the party's state: key share, alignment, ledger witness, budgets (default DIR/state)")
	f.StringVar(&o.CSV, "csv", "", "the table's rows (CSV)")
	f.StringVar(&o.Schema, "schema", "", "the table's schema (JSON)")
	f.StringVar(&o.TLS.CA, "ca", "", "the consortium CA's certificate (default DIR/ca.pem)")
	f.StringVar(&o.TLS.Cert, "cert", "", "this party's certificate (default DIR/cert.pem)")
	f.StringVar(&o.TLS.Key, "key", "", "this party's key (default DIR/key.pem)")
	f.StringArrayVar(&o.Peers, "peer", nil, "another party's certificate file (repeat for each other party)")
	f.StringVar(&o.WitnessKey, "witness-key", "", "this party's cosigning key (default DIR/witness.key)")
	f.StringVar(&o.LedgerPublicKey, "ledger-public-key", "", "the ledger's verifier key, or the ledger.pub file holding it")
	f.StringVar(&o.Policy, "policy", "", "the policy file; written from --policy-template if missing (default DIR/policy.json)")
	f.StringVar(&o.PolicyTemplate, "policy-template", admin.PolicyMinimal, "template of a missing policy: "+strings.Join(admin.PolicyTemplates(), " or "))
	f.IntVar(&o.Workers, "workers", 0, "goroutines for cryptography; 0 = one per core")
	f.BoolVar(&o.AllowInsecure, "allow-insecure-params", false, "take part in ceremonies with insecure test parameters (tests only)")
	f.StringVarP(&out, "out", "o", "", "where to write the config (default DIR/config.json)")
	required(cmd, "name", "listen", "csv", "schema", "ledger-public-key")
	return cmd
}

func orString(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// keyValues parses NAME=VALUE flags into a map.
func keyValues(flag string, vals []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range vals {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, usageError{Err: fmt.Errorf("--%s %q: want NAME=VALUE", flag, kv)}
		}
		if _, dup := m[k]; dup {
			return nil, usageError{Err: fmt.Errorf("--%s names %s twice", flag, k)}
		}
		m[k] = v
	}
	return m, nil
}

func configCoordinatorCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	var o admin.CoordinatorOptions
	var dir, out, consOut string
	var parties, witnesses []string
	cmd := &cobra.Command{
		Use:   "coordinator --consortium ID --dir DIR --listen ADDR --party NAME=ADDR... --witness NAME=KEY...",
		Short: "Write the coordinator's config and the consortium file for clients",
		Long: `Run by the coordinator's operator once its certificate (DIR/cert.pem),
the CA's certificate (DIR/ca.pem), the ledger key (DIR/ledger.key) and
every party's address and witness.pub are at hand. Checks them and
writes DIR/config.json for coordinatord --config, and consortium.json:
what analysts and auditors need (the coordinator's public address, the
parameter set, the ledger's URL and keys). It holds no secret; send it to
every analyst and auditor (mpcadm profile --consortium).

--public-addr is the host:port clients dial; it must be a host in the
coordinator's certificate. It defaults to --listen unless that listens on
every interface.`,
		Example: `  mpcadm config coordinator --consortium city-police-pilot --dir /etc/mpcq/coordinator \
    --listen 0.0.0.0:7000 --public-addr mpcq.example.net:7000 --ledger-listen 0.0.0.0:7443 \
    --data-dir /var/lib/mpcq/coordinator \
    --party bank=bank.example.net:7101 --witness bank=bank-witness.pub \
    --party telecom=telecom.example.net:7101 --witness telecom=telecom-witness.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Parties, err = keyValues("party", parties); err != nil {
				return err
			}
			if o.Witnesses, err = keyValues("witness", witnesses); err != nil {
				return err
			}
			o.TLS.CA = orDefault(o.TLS.CA, dir, "ca.pem")
			o.TLS.Cert = orDefault(o.TLS.Cert, dir, admin.CertFile)
			o.TLS.Key = orDefault(o.TLS.Key, dir, admin.KeyFile)
			o.LedgerKey = orDefault(o.LedgerKey, dir, admin.LedgerKeyFile)
			o.DataDir = orDefault(o.DataDir, dir, "state")
			out = orDefault(out, dir, "config.json")
			consOut = orDefault(consOut, dir, admin.ConsortiumFile)
			if out == "" || consOut == "" {
				return usageError{Err: fmt.Errorf("give --dir, or -o and --consortium-out")}
			}
			c, cons, err := admin.CoordinatorConfig(o, now())
			if err != nil {
				return err
			}
			if err := writeJSON(out, c); err != nil {
				return err
			}
			if err := writeJSON(consOut, cons); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "config: %s (run coordinatord --config %s)\nconsortium file: %s (send it to every analyst and auditor)\n", out, out, consOut)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Consortium, "consortium", "", "the consortium's identifier (part of the key ceremony transcript)")
	f.StringVar(&dir, "dir", "", "the coordinator's directory: default place of ca.pem, cert.pem, key.pem, ledger.key, state/, config.json and consortium.json")
	f.StringVar(&o.Listen, "listen", "", "host:port for analysts and auditors, e.g. 0.0.0.0:7000")
	f.StringVar(&o.PublicAddr, "public-addr", "", "host:port clients dial (default --listen)")
	f.StringVar(&o.LedgerListen, "ledger-listen", "", "host:port where auditors read the ledger (HTTPS); empty: not served")
	f.StringVar(&o.PublicLedgerAddr, "public-ledger-addr", "", "host:port auditors read the ledger at (default: --ledger-listen's port on --public-addr's host)")
	f.StringVar(&o.DataDir, "data-dir", "", "ceremony, alignment, ledger and archive state (default DIR/state)")
	f.StringVar(&o.ParamSet, "param-set", mpc.DefaultSetName, "the homomorphic-encryption parameter set")
	f.StringVar(&o.TLS.CA, "ca", "", "the consortium CA's certificate (default DIR/ca.pem)")
	f.StringVar(&o.TLS.Cert, "cert", "", "the coordinator's certificate (default DIR/cert.pem)")
	f.StringVar(&o.TLS.Key, "key", "", "the coordinator's key (default DIR/key.pem)")
	f.StringVar(&o.LedgerKey, "ledger-key", "", "the ledger's signing key (default DIR/ledger.key)")
	f.StringArrayVar(&parties, "party", nil, "a party and its host:port, NAME=ADDR (repeat for each party)")
	f.StringArrayVar(&witnesses, "witness", nil, "a party's witness verifier key or witness.pub file, NAME=KEY (repeat for each party)")
	f.IntVar(&o.Workers, "workers", 0, "goroutines for cryptography; 0 = one per core")
	f.BoolVar(&o.AllowInsecure, "allow-insecure-params", false, "accept an insecure test parameter set (tests only)")
	f.StringVarP(&out, "out", "o", "", "where to write the config (default DIR/config.json)")
	f.StringVar(&consOut, "consortium-out", "", "where to write the consortium file (default DIR/consortium.json)")
	required(cmd, "consortium", "listen", "party", "witness")
	return cmd
}

func profileCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	return group("profile", "Write a client profile directory (analyst, auditor, authorizer)", `Writes the profile directory mpcq, mpcaudit or mpcwarrant reads, after
checking that the certificate is the member's, under the CA, for the
right role, and pairs with the key. Run it where the key is: DIR is
usually the directory of mpcadm csr, holding key.pem, with cert.pem and
ca.pem from the CA admin put next to it.`,
		profileAnalystCmd(stdout, now), profileAuditorCmd(stdout, now), profileAuthorizerCmd(stdout, now))
}

// memberFlags adds --ca, --cert, --key and --out to a profile command.
func memberFlags(cmd *cobra.Command, m *admin.Member, out *string) {
	f := cmd.Flags()
	f.StringVar(out, "out", "", "the profile directory (created 0700)")
	f.StringVar(&m.CA, "ca", "", "the consortium CA's certificate (default OUT/ca.pem)")
	f.StringVar(&m.Cert, "cert", "", "your certificate (default OUT/cert.pem)")
	f.StringVar(&m.Key, "key", "", "your private key (default OUT/key.pem)")
	required(cmd, "out")
}

func memberDefaults(m *admin.Member, dir string) {
	m.CA = orDefault(m.CA, dir, "ca.pem")
	m.Cert = orDefault(m.Cert, dir, admin.CertFile)
	m.Key = orDefault(m.Key, dir, admin.KeyFile)
}

func profileAnalystCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	var m admin.Member
	var o admin.AnalystOptions
	var out, consFile string
	cmd := &cobra.Command{
		Use:   "analyst --consortium FILE --out DIR",
		Short: "Write an analyst's profile (for mpcq), with fresh result keys",
		Long: `Writes an analyst profile into DIR for mpcq --profile DIR: the
coordinator's address and parameter set from consortium.json, the TLS
files, and a fresh RLWE key pair to which results are encrypted
(secret.key, mode 0600). --warrant copies a warrant (mpcwarrant issue)
into the profile, attached to queries by default, after checking it is
signed under the CA and names this analyst.`,
		Example: `  mpcadm profile analyst --consortium consortium.json --out ~/mpcq
  mpcadm profile analyst --consortium consortium.json --out ~/mpcq --warrant alice-042.warrant`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			memberDefaults(&m, out)
			c, err := admin.LoadConsortium(consFile)
			if err != nil {
				return err
			}
			id, err := admin.WriteAnalystProfile(out, c, m, o, now())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "analyst profile of %s: %s (mpcq --profile %s status)\n", id, out, out)
			return nil
		},
	}
	memberFlags(cmd, &m, &out)
	f := cmd.Flags()
	f.StringVar(&consFile, "consortium", "", "consortium.json from the coordinator's operator")
	f.StringVar(&o.Purpose, "purpose", "", "default purpose of queries")
	f.StringVar(&o.LegalBasis, "legal-basis", "", "default legal basis (case reference) of queries")
	f.StringVar(&o.Warrant, "warrant", "", "a warrant file to attach to queries by default")
	f.StringVar(&o.DefaultEpsilon, "epsilon", "", "default ε of noisy queries, e.g. 1")
	required(cmd, "consortium")
	return cmd
}

func profileAuditorCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	var m admin.Member
	var out, consFile string
	cmd := &cobra.Command{
		Use:   "auditor --consortium FILE --out DIR",
		Short: "Write an auditor's profile (for mpcaudit)",
		Long: `Writes an auditor profile into DIR for mpcaudit --profile DIR: the
coordinator's address and the ledger's URL, its public key and every
party's witness key from consortium.json, and the TLS files.`,
		Example: `  mpcadm profile auditor --consortium consortium.json --out ~/mpcq-audit`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			memberDefaults(&m, out)
			c, err := admin.LoadConsortium(consFile)
			if err != nil {
				return err
			}
			id, err := admin.WriteAuditorProfile(out, c, m, now())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "auditor profile of %s: %s (mpcaudit --profile %s)\n", id, out, out)
			return nil
		},
	}
	memberFlags(cmd, &m, &out)
	cmd.Flags().StringVar(&consFile, "consortium", "", "consortium.json from the coordinator's operator")
	required(cmd, "consortium")
	return cmd
}

func profileAuthorizerCmd(stdout io.Writer, now func() time.Time) *cobra.Command {
	var m admin.Member
	var out string
	cmd := &cobra.Command{
		Use:   "authorizer --out DIR",
		Short: "Write an authorizer's profile (for mpcwarrant)",
		Long: `Writes an authorizer (judge, supervising prosecutor) profile into DIR
for mpcwarrant --profile DIR: ca.pem, cert.pem and key.pem (0600).`,
		Example: `  mpcadm profile authorizer --out ~/mpcq-judge`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			memberDefaults(&m, out)
			id, err := admin.WriteAuthorizerProfile(out, m, now())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "authorizer profile of %s: %s (mpcwarrant issue --profile %s ...)\n", id, out, out)
			return nil
		},
	}
	memberFlags(cmd, &m, &out)
	return cmd
}
