# scripts/kube/pki.sh: the cluster's credentials for scripts/kube.sh (sourced by it; uses its settings).
# Made once per run folder with openssl, all mode 0600 in a 0700 folder: a CA, the API server's and
# kwok's serving certificates, a front-proxy CA and client certificate, the service-account key pair,
# static tokens (admin and kwok in system:masters; the controller-manager and scheduler as the users
# RBAC's bootstrap policy binds) and a kubeconfig per client with the CA and token inline.
# openssl_cert NAME SUBJECT EXT: a key and a certificate signed by CA (pki/ca.*), EXT = v3 extensions.
openssl_cert() {
  local name=$1 subj=$2 ext=$3 ca=${4:-ca}
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" \
    -out "$PKI/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

openssl_ca() { # NAME CN
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" -subj "/CN=$2" -days 3650 \
    -sha256 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$PKI/$1.crt" 2>/dev/null
}

random_token() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }

# kubeconfig FILE USER TOKEN: a kubeconfig with the CA and the token inline (mode 0600).
write_kubeconfig() {
  local file=$1 user=$2 token=$3 ca
  ca=$(base64 -w0 <"$PKI/ca.crt")
  cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ai-platform-data
  cluster:
    server: https://$HOST:$APISERVER_PORT
    certificate-authority-data: $ca
users:
- name: $user
  user:
    token: $token
contexts:
- name: ai-platform-data
  context:
    cluster: ai-platform-data
    user: $user
current-context: ai-platform-data
EOF
  mv "$file.tmp" "$file"
}

# Made once per run folder (kept across restarts, so kubeconfigs stay valid).
ensure_credentials() {
  [[ -f $PKI/.complete && -f $KUBECONFIG_ADMIN ]] && return 0
  command -v openssl >/dev/null || die "openssl is needed to make the cluster's certificates"
  log "making certificates, service-account keys, tokens and kubeconfigs in $KDIR"
  rm -rf "$PKI"
  (
    umask 077
    mkdir -p "$PKI"
    openssl_ca ca ai-platform-data-kube-ca
    openssl_cert apiserver "/CN=kube-apiserver" "$(printf '%s\n' \
      "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:$HOST,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local")"
    # kwok's kubelet API (the API server does not verify it: no --kubelet-certificate-authority).
    openssl_cert kwok "/CN=$NODE_NAME" "$(printf '%s\n' \
      "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:$HOST,DNS:$NODE_NAME")"
    # Front proxy (aggregation layer): its CA is published in extension-apiserver-authentication,
    # which the controller-manager and scheduler read (they complain at length without it).
    openssl_ca front-proxy-ca ai-platform-data-front-proxy-ca
    openssl_cert front-proxy-client "/CN=front-proxy-client" "$(printf '%s\n' \
      "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=clientAuth")" front-proxy-ca
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
    openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
    local admin cm sched kwok
    admin=$(random_token); cm=$(random_token); sched=$(random_token); kwok=$(random_token)
    # Static tokens: token,user,uid,"groups". RBAC's bootstrap roles bind the two component users.
    cat >"$PKI/tokens.csv" <<EOF
$admin,admin,uid-admin,"system:masters"
$cm,system:kube-controller-manager,uid-kube-controller-manager
$sched,system:kube-scheduler,uid-kube-scheduler
$kwok,kwok,uid-kwok,"system:masters"
EOF
    write_kubeconfig "$PKI/controller-manager.kubeconfig" system:kube-controller-manager "$cm"
    write_kubeconfig "$PKI/scheduler.kubeconfig" system:kube-scheduler "$sched"
    write_kubeconfig "$PKI/kwok.kubeconfig" kwok "$kwok"
    write_kubeconfig "$KUBECONFIG_ADMIN" admin "$admin"
    rm -f "$PKI"/*.srl
    touch "$PKI/.complete"
  )
  chmod 0700 "$PKI"
  chmod 0600 "$PKI"/* "$KUBECONFIG_ADMIN"
}

