// The Event Grid subscription that hands each new prompt file to the app's blob trigger (StartFromBlob, Source =
// EventGrid). Its webhook needs the app's blobs_extension system key, which exists only once the app runs: this
// template is deployed after the app by infra/hooks/postdeploy.sh (or by main.bicep when the key is passed in).

@description('Name of the storage account\'s Event Grid system topic.')
param systemTopicName string

@secure()
@description('''The blob extension's webhook with its key:
https://{app fqdn}/runtime/webhooks/blobs?functionName=Host.Functions.StartFromBlob&code={blobs_extension key}''')
param webhookUrl string

@description('Blob container whose new blobs start runs.')
param promptsContainer string = 'prompts'

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource promptUploads 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: 'prompt-uploads'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: webhookUrl
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${promptsContainer}/blobs/'
      // Only uploads that finished: a block blob's Put/Commit, not an empty file created before its data arrives.
      enableAdvancedFilteringOnArrays: true
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: [
            'PutBlob'
            'PutBlockList'
            'CopyBlob'
            'FlushWithClose'
          ]
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output subscriptionName string = promptUploads.name
