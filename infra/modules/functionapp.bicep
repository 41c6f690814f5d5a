// One Azure Functions app hosted as a container app (kind functionapp): the platform reads the app's triggers and
// scales it, from zero where the trigger allows. Runs as the user-assigned identity; pulls its image with it too.

@description('Azure region.')
param location string

param name string

@description('azd service name (azure.yaml) this app deploys: azd finds the app by this tag.')
param serviceName string

param environmentId string

@description('Workload profile of the environment the replicas run on.')
param workloadProfileName string

@description('Image to run. Before the first azd deploy this is a public placeholder; azd then sets the built image.')
param image string

param registryLoginServer string

@description('Resource id of the user-assigned identity.')
param identityId string

@description('vCPUs per replica.')
param cpu string

@description('Memory per replica, e.g. 2Gi.')
param memory string

@description('Whether clients outside the environment reach the app (HTTP API, Event Grid webhook); false: internal ingress, reachable only from inside the environment.')
param externalIngress bool

param minReplicas int
param maxReplicas int

@description('App settings as name/value pairs (no secrets: every connection is identity-based).')
param settings array

@description('Environment storage (an Azure Files share of model exports) to mount at modelMountPath; empty for none.')
param modelStorageName string = ''

@description('Where the model share appears in the container.')
param modelMountPath string = '/models'

param tags object = {}

// The environment storage is ReadOnly, so the mount is too.
var modelVolumes = empty(modelStorageName)
  ? []
  : [
      {
        name: 'models'
        storageType: 'AzureFile'
        storageName: modelStorageName
      }
    ]
var modelVolumeMounts = empty(modelStorageName)
  ? []
  : [
      {
        volumeName: 'models'
        mountPath: modelMountPath
      }
    ]

resource app 'Microsoft.App/containerApps@2025-07-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: workloadProfileName
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: externalIngress
        targetPort: 80
        transport: 'auto'
        allowInsecure: false
      }
      registries: [
        {
          server: registryLoginServer
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'functions'
          image: image
          resources: {
            cpu: json(cpu)
            memory: memory
          }
          env: settings
          volumeMounts: modelVolumeMounts
        }
      ]
      volumes: modelVolumes
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
      }
    }
  }
}

output name string = app.name
output fqdn string = app.properties.configuration.ingress.fqdn
