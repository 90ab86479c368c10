#!/usr/bin/env bash
# The ACR Transfer workflow as an operator runs it against Azure, here against the sandbox's two clouds.
# Uses only az (with the acrtransfer extension from the wheel), skopeo and the env files `make sandbox-up` writes.
# Run by `make demo`; by hand: `make sandbox-up && bash acrtransfer_sandbox/demo.sh`.
set -euo pipefail

SANDBOX_HOME=${ACRSANDBOX_HOME:-$(cd "$(dirname "$0")/.." && pwd)/.sandbox}
TRIGGER_TIMEOUT_SECONDS=${TRIGGER_TIMEOUT_SECONDS:-120}
SUFFIX=$(date +%s)                     # state persists between demos: fresh names each time
EXPORT_PIPELINE="export${SUFFIX}"
IMPORT_PIPELINE="import${SUFFIX}"
EXPORT_RUN="exportrun${SUFFIX}"
IMPORT_RUN="importrun${SUFFIX}"
BLOB="demo-${SUFFIX}"
STARTED=$SECONDS

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
quote() { # an argument as a shell user would type it
    case $1 in
        *[!A-Za-z0-9_@%+=:,./-]* | '') printf "'%s'" "${1//\'/\'\\\'\'}" ;;
        *) printf '%s' "$1" ;;
    esac; }
show() { # print the command as typed (connection strings by name: they hold the account key), then run it
    local line="" arg
    for arg in "$@"; do
        if [ "$arg" = "${ACRSANDBOX_STORAGE_CONNECTION_STRING:-}" ]; then
            line+=' "$ACRSANDBOX_STORAGE_CONNECTION_STRING"'
        else
            line+=" $(quote "$arg")"
        fi
    done
    printf '    $%s\n' "$line"; "$@"; }
in_cloud() { # shellcheck disable=SC1090
    source "$SANDBOX_HOME/$1.env"; }
manifest_digest() { # the exact manifest (or index) digest of a reference in a cloud's registry backend
    echo "sha256:$(skopeo inspect --raw --tls-verify=false "docker://$1/hello-world$2" | sha256sum | cut -d' ' -f1)"; }
export AZURE_CORE_ONLY_SHOW_ERRORS=false
WHEEL=${ACRTRANSFER_WHEEL:-$(ls -t "$(dirname "$0")"/../dist/acrtransfer-*-py3-none-any.whl | head -n 1)}
WHEEL_NAME=$(basename "$WHEEL")

step "Install the extension from a URL, as on a real cloud: the wheel published in a storage container"
in_cloud source
show az storage container create --connection-string "$ACRSANDBOX_STORAGE_CONNECTION_STRING" --name dist \
    --public-access blob --output none
show az storage blob upload --connection-string "$ACRSANDBOX_STORAGE_CONNECTION_STRING" --container-name dist \
    --name "$WHEEL_NAME" --file "$WHEEL" --overwrite --no-progress --output none
WHEEL_URL="${ACRSANDBOX_STORAGE_CONTAINER_URI%/*}/dist/$WHEEL_NAME"
for cloud in source target; do
    in_cloud "$cloud"
    az extension remove --name acrtransfer --only-show-errors
    show az extension add --source "$WHEEL_URL" -y --only-show-errors
done
in_cloud source
show az extension show --name acrtransfer --query "{name:name, version:version}" -o tsv

step "Source cloud: what is in the registry"
SOURCE_BACKEND=$ACRSANDBOX_REGISTRY_BACKEND
show az acr repository show-tags --name "$ACRSANDBOX_REGISTRY" --repository hello-world -o tsv
V2_DIGEST=$(az acr repository show --name "$ACRSANDBOX_REGISTRY" --image hello-world:v2 --query digest -o tsv)
echo "    hello-world:v2 is $V2_DIGEST (exported by digest below)"

step "Source cloud: export pipeline (SasToken: the SAS lives in Key Vault)"
show az acr export-pipeline create --resource-group "$ACRSANDBOX_RESOURCE_GROUP" --registry "$ACRSANDBOX_REGISTRY" \
    --name "$EXPORT_PIPELINE" --secret-uri "$ACRSANDBOX_SECRET_URI" \
    --storage-container-uri "$ACRSANDBOX_STORAGE_CONTAINER_URI" --output none
PRINCIPAL=$(az acr export-pipeline show --resource-group "$ACRSANDBOX_RESOURCE_GROUP" \
    --registry "$ACRSANDBOX_REGISTRY" --name "$EXPORT_PIPELINE" --query identity.principalId --output tsv)
echo "    pipeline identity principalId: $PRINCIPAL"
show az keyvault set-policy --name "$ACRSANDBOX_KEYVAULT" --secret-permissions get --object-id "$PRINCIPAL" --output none

step "Source cloud: check everything the export run needs, then run it"
show az acr export-pipeline check --resource-group "$ACRSANDBOX_RESOURCE_GROUP" --registry "$ACRSANDBOX_REGISTRY" \
    --name "$EXPORT_PIPELINE" --storage-blob "$BLOB" \
    --artifacts hello-world:latest hello-world:multiarch "hello-world@$V2_DIGEST" --output table
show az acr pipeline-run create --resource-group "$ACRSANDBOX_RESOURCE_GROUP" --registry "$ACRSANDBOX_REGISTRY" \
    --pipeline "$EXPORT_PIPELINE" --name "$EXPORT_RUN" --pipeline-type export --storage-blob "$BLOB" \
    --artifacts hello-world:latest hello-world:multiarch "hello-world@$V2_DIGEST" --force-redeploy \
    --query "{status:response.status, artifacts:response.importedArtifacts, catalog:response.catalogDigest}" -o json
SOURCE_CONNECTION=$ACRSANDBOX_STORAGE_CONNECTION_STRING
show az storage blob exists --connection-string "$ACRSANDBOX_STORAGE_CONNECTION_STRING" \
    --container-name "$ACRSANDBOX_STORAGE_CONTAINER" --name "$BLOB" -o tsv
SOURCE_CONTAINER=$ACRSANDBOX_STORAGE_CONTAINER

step "Cross-domain hop: copy the blob to the target container (metadata and Content-MD5 travel with it)"
EXPIRY=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%MZ)
SOURCE_BLOB_URL=$(az storage blob generate-sas --connection-string "$SOURCE_CONNECTION" \
    --container-name "$SOURCE_CONTAINER" --name "$BLOB" --permissions r --expiry "$EXPIRY" --https-only \
    --full-uri --output tsv)
in_cloud target
TARGET_BACKEND=$ACRSANDBOX_REGISTRY_BACKEND
echo "    \$ az storage blob copy start --connection-string <target> --destination-container $ACRSANDBOX_STORAGE_CONTAINER --destination-blob $BLOB --source-uri <source blob URL + read SAS>"
az storage blob copy start --connection-string "$ACRSANDBOX_STORAGE_CONNECTION_STRING" \
    --destination-container "$ACRSANDBOX_STORAGE_CONTAINER" --destination-blob "$BLOB" \
    --source-uri "$SOURCE_BLOB_URL" --query copy_status --output tsv
show az storage blob show --connection-string "$ACRSANDBOX_STORAGE_CONNECTION_STRING" \
    --container-name "$ACRSANDBOX_STORAGE_CONTAINER" --name "$BLOB" \
    --query "{metadata:metadata, contentMd5:properties.contentSettings.contentMd5, size:properties.contentLength}" -o json

step "Target cloud: import pipeline (ManagedIdentity, source trigger enabled), granted its role in the same step"
show az acr import-pipeline create --resource-group "$ACRSANDBOX_RESOURCE_GROUP" --registry "$ACRSANDBOX_REGISTRY" \
    --name "$IMPORT_PIPELINE" --storage-access-mode ManagedIdentity \
    --storage-container-uri "$ACRSANDBOX_STORAGE_CONTAINER_URI" --source-trigger-enabled true --grant-access \
    --output none
show az acr import-pipeline check --resource-group "$ACRSANDBOX_RESOURCE_GROUP" --registry "$ACRSANDBOX_REGISTRY" \
    --name "$IMPORT_PIPELINE" --output table

step "Target cloud: wait for the source-triggered import run of $BLOB"
show az acr pipeline-run wait --resource-group "$ACRSANDBOX_RESOURCE_GROUP" --registry "$ACRSANDBOX_REGISTRY" \
    --pipeline "$IMPORT_PIPELINE" --storage-blob "$BLOB" --timeout "$TRIGGER_TIMEOUT_SECONDS" \
    --query "{name:name, status:response.status, triggeredAt:response.trigger.sourceTrigger.timestamp}" -o json \
    || { echo "FAILED: the source trigger did not import $BLOB"; exit 1; }
TRIGGERED=$(az acr pipeline-run list --resource-group "$ACRSANDBOX_RESOURCE_GROUP" --registry "$ACRSANDBOX_REGISTRY" \
    --pipeline "$IMPORT_PIPELINE" --top 1 --query "[0].join(' ', [name, response.status])" --output tsv)
echo "    triggered run: $TRIGGERED"

step "Target cloud: a second import of the same blob, by hand, checked first"
show az acr import-pipeline check --resource-group "$ACRSANDBOX_RESOURCE_GROUP" --registry "$ACRSANDBOX_REGISTRY" \
    --name "$IMPORT_PIPELINE" --storage-blob "$BLOB" --output table
show az acr pipeline-run create --resource-group "$ACRSANDBOX_RESOURCE_GROUP" --registry "$ACRSANDBOX_REGISTRY" \
    --pipeline "$IMPORT_PIPELINE" --name "$IMPORT_RUN" --pipeline-type import --storage-blob "$BLOB" \
    --force-redeploy --query "{status:response.status, artifacts:response.importedArtifacts}" -o json
show az acr pipeline-run list --resource-group "$ACRSANDBOX_RESOURCE_GROUP" --registry "$ACRSANDBOX_REGISTRY" \
    --pipeline "$IMPORT_PIPELINE" --output table

step "Verify: tags in the target registry, and manifest digests source vs target"
show az acr repository show-tags --name "$ACRSANDBOX_REGISTRY" --repository hello-world -o tsv
FAILURES=0
printf '    %-26s %-73s %s\n' REFERENCE SOURCE_DIGEST TARGET
for reference in :latest :multiarch "@$V2_DIGEST"; do
    source_digest=$(manifest_digest "$SOURCE_BACKEND" "$reference")
    target_digest=$(manifest_digest "$TARGET_BACKEND" "$reference" 2>/dev/null || echo missing)
    verdict=$([ "$source_digest" = "$target_digest" ] && echo equal || echo DIFFERENT)
    [ "$verdict" = equal ] || FAILURES=$((FAILURES + 1))
    printf '    %-26s %-73s %s\n' "hello-world${reference:0:20}" "$source_digest" "$verdict"
done
for tag in latest multiarch; do
    via_az=$(az acr repository show --name "$ACRSANDBOX_REGISTRY" --image "hello-world:$tag" --query digest -o tsv)
    [ "$via_az" = "$(manifest_digest "$SOURCE_BACKEND" ":$tag")" ] || { echo "    az sees $tag as $via_az"; FAILURES=$((FAILURES + 1)); }
done

step "Target cloud: turn the import pipeline's source trigger off (it would import later blobs on its own)"
show az acr import-pipeline create --resource-group "$ACRSANDBOX_RESOURCE_GROUP" --registry "$ACRSANDBOX_REGISTRY" \
    --name "$IMPORT_PIPELINE" --storage-access-mode ManagedIdentity \
    --storage-container-uri "$ACRSANDBOX_STORAGE_CONTAINER_URI" --source-trigger-enabled false \
    --query trigger.sourceTrigger.status --output tsv --only-show-errors

step "Clean up the demo's blobs (pipelines and runs stay for inspection)"
az storage blob delete --connection-string "$ACRSANDBOX_STORAGE_CONNECTION_STRING" \
    --container-name "$ACRSANDBOX_STORAGE_CONTAINER" --name "$BLOB" --output none
az storage blob delete --connection-string "$SOURCE_CONNECTION" --container-name "$SOURCE_CONTAINER" --name "$BLOB" \
    --output none

step "Report"
echo "    export pipeline $EXPORT_PIPELINE -> blob $BLOB -> import pipeline $IMPORT_PIPELINE"
echo "    source-triggered run: $TRIGGERED; manual import run: $IMPORT_RUN"
echo "    digest mismatches: $FAILURES; took $((SECONDS - STARTED))s"
if [ "$FAILURES" -ne 0 ]; then echo "DEMO FAILED"; exit 1; fi
echo "DEMO PASSED"
