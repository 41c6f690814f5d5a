#!/bin/sh
# After `azd deploy`: the CPU app now runs, so its system and host keys exist. Read them with the Azure CLI and
# deploy what needs them: the Event Grid subscription (prompt uploads -> StartFromBlob) and the example Logic Apps
# workflow. The keys go to Azure through a private temporary parameters file: never to the azd environment, never to
# a deployment output.
set -eu

: "${AZURE_RESOURCE_GROUP:?run through azd (azd up / azd deploy)}"
: "${FUNC_APP_NAME:?}" "${FUNC_APP_URL:?}" "${EVENT_GRID_TOPIC_NAME:?}" "${LOGIC_APP_NAME:?}" "${AZURE_LOCATION:?}"

here=$(cd "$(dirname "$0")" && pwd)
umask 077
params=$(mktemp)
trap 'rm -f "$params"' EXIT

# The blob extension registers its key when the host starts with an Event Grid blob trigger: wake the app
# (it scales from zero) and wait for the key.
key=""
for attempt in 1 2 3 4 5 6 7 8 9 10 11 12; do
  curl -s -o /dev/null --max-time 30 "$FUNC_APP_URL/" || true
  key=$(az containerapp function keys show -g "$AZURE_RESOURCE_GROUP" -n "$FUNC_APP_NAME" \
          --key-type systemKey --key-name blobs_extension --query value -o tsv 2>/dev/null || true)
  [ -n "$key" ] && break
  echo "postdeploy: waiting for the blobs_extension key of $FUNC_APP_NAME (attempt $attempt)"
  sleep 15
done
[ -n "$key" ] || { echo "postdeploy: no blobs_extension key; see docs/deploy.md, 'Event Grid by hand'" >&2; exit 1; }

fqdn=${FUNC_APP_URL#https://}
printf '{"webhookUrl":{"value":"https://%s/runtime/webhooks/blobs?functionName=Host.Functions.StartFromBlob&code=%s"},"systemTopicName":{"value":"%s"}}' \
  "$fqdn" "$key" "$EVENT_GRID_TOPIC_NAME" > "$params"
az deployment group create -g "$AZURE_RESOURCE_GROUP" -n prompt-uploads \
  -f "$here/../modules/eventgrid-subscription.bicep" -p "@$params" -o none
echo "postdeploy: Event Grid sends prompts/ uploads to $FUNC_APP_NAME"

hostkey=$(az containerapp function keys show -g "$AZURE_RESOURCE_GROUP" -n "$FUNC_APP_NAME" \
            --key-type hostKey --key-name default --query value -o tsv)
printf '{"name":{"value":"%s"},"location":{"value":"%s"},"functionAppFqdn":{"value":"%s"},"functionKey":{"value":"%s"}}' \
  "$LOGIC_APP_NAME" "$AZURE_LOCATION" "$fqdn" "$hostkey" > "$params"
az deployment group create -g "$AZURE_RESOURCE_GROUP" -n logic-app \
  -f "$here/../modules/logicapp.bicep" -p "@$params" -o none
echo "postdeploy: Logic Apps workflow $LOGIC_APP_NAME deployed"
