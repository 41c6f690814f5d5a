// The storage account's Event Grid system topic, and (once the app's blobs_extension key is known) the subscription
// that delivers prompt uploads to StartFromBlob.

@description('Azure region (the storage account\'s).')
param location string

param name string

param storageAccountName string

@description('Host name of the function app that runs StartFromBlob.')
param functionAppFqdn string

@secure()
@description('The app\'s blobs_extension system key; empty until the app has been deployed (see infra/hooks/postdeploy.sh).')
param blobsExtensionKey string = ''

param tags object = {}

resource storageAccount 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    source: storageAccount.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

module promptUploads 'eventgrid-subscription.bicep' = if (!empty(blobsExtensionKey)) {
  name: 'prompt-uploads-subscription'
  params: {
    systemTopicName: systemTopic.name
    // functionName is Host.Functions.<name of the [Function]>.
    webhookUrl: 'https://${functionAppFqdn}/runtime/webhooks/blobs?functionName=Host.Functions.StartFromBlob&code=${blobsExtensionKey}'
  }
}

output systemTopicName string = systemTopic.name
