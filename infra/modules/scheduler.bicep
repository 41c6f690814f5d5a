// The Durable Task Scheduler and its task hub: the Durable backend that lets both apps scale from zero and routes
// each work item only to an app that has its function enabled (work-item filtering), so RunSegments runs on the GPU
// app and everything else on the CPU app.

@description('Azure region.')
param location string

param name string

@description('Task hub name (the apps\' TASKHUB_NAME).')
param taskHubName string

@description('Principal id of the apps\' managed identity.')
param appPrincipalId string

param tags object = {}

// Durable Task Data Contributor: run orchestrations and activities, and read their state.
var durableTaskDataContributorRoleId = '0ad04412-c4d5-4796-b79c-f76d14c8d402'

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'Consumption'
    }
    ipAllowlist: [
      '0.0.0.0/0'
    ]
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

resource dataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: scheduler
  name: guid(scheduler.id, appPrincipalId, durableTaskDataContributorRoleId)
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributorRoleId)
  }
}

output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
