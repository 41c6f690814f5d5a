// The Container Apps environment: a Consumption profile (CPU; the orchestration app) and a serverless GPU profile
// (the model work). Serverless GPU replicas are billed per second while they run; at zero replicas they cost nothing.

@description('Azure region (must offer the chosen serverless GPU profile).')
param location string

param name string

@description('Serverless GPU profile type: one T4 (16 GB) or one A100 (80 GB) per replica.')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfileType string

@description('Log Analytics workspace the environment\'s logs go to.')
param logAnalyticsName string

param tags object = {}

// Workload profile names the apps are placed on.
var consumptionProfileName = 'Consumption'
var gpuProfileName = 'gpu'

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' existing = {
  name: logAnalyticsName
}

resource environment 'Microsoft.App/managedEnvironments@2025-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    // Logs through Azure Monitor diagnostic settings, so no workspace shared key is handed to the environment.
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    workloadProfiles: [
      {
        name: consumptionProfileName
        workloadProfileType: 'Consumption'
      }
      {
        name: gpuProfileName
        workloadProfileType: gpuProfileType
      }
    ]
  }
}

resource logsToWorkspace 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-workspace'
  scope: environment
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

output id string = environment.id
output name string = environment.name
output defaultDomain string = environment.properties.defaultDomain
output consumptionProfileName string = consumptionProfileName
output gpuProfileName string = gpuProfileName
