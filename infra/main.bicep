// HierDiff on Azure: `azd up` provisions this, builds the two images and deploys them.
//
// Two function apps share one storage account, one identity and one Durable task hub:
// - func (CPU, Consumption profile): the HTTP API, the Event Grid blob trigger and, with the Durable Task
//   Scheduler backend, the orchestrators and the light activities;
// - gpu (serverless GPU profile): the model work, RunSegments (and, with the Azure Storage backend, the whole
//   Durable side).
// Which app runs which function is set by AzureWebJobs.<name>.Disabled settings; see docs/deploy.md for what each
// backend bills while idle.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Azure region. It must offer the chosen serverless GPU profile.')
param location string

@description('Serverless GPU profile for the model work.')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfileType string = 'Consumption-GPU-NC8as-T4'

@description('''Durable Functions backend. DurableTaskScheduler: both apps scale from zero and the GPU app runs
only RunSegments, so a GPU is billed only while segments run (the images must be built with the Durable Task
Scheduler extension: the Dockerfiles' DURABLE_BACKEND build argument). AzureStorage: what the app builds with by
default; Container Apps cannot scale Durable's Azure Storage queues from zero, so one GPU replica stays up and is
billed around the clock.''')
@allowed([
  'DurableTaskScheduler'
  'AzureStorage'
])
param durableBackend string = 'DurableTaskScheduler'

@minValue(1)
@maxValue(100)
@description('Most GPU replicas (one GPU each) at once. Check your subscription\'s serverless GPU quota.')
param maxGpuReplicas int = 4

@minValue(1)
@maxValue(100)
@description('Most replicas of the CPU app.')
param maxCpuReplicas int = 10

@description('Price of one GPU-second in your currency, from the Azure Container Apps pricing page (serverless GPU, your region and profile). The run manifests multiply GPU seconds by it.')
param pricePerGpuSecond string

@description('Model folder inside the image; empty for the built-in model the image ships. Ignored when modelFolder is set.')
param modelPath string = ''

@maxLength(200)
@description('Folder of your model export in the model share (docs/deploy.md, "Your own model"). Set, it creates the share, mounts it read-only at /models on both apps (the CPU app encodes prompts with the same model) and points HierDiff__ModelPath at /models/<modelFolder>. Empty: no share, modelPath applies.')
param modelFolder string = ''

@description('Tier of the model share: Standard (billed on use) or Premium (SSD, billed on the provisioned size; faster model loads at GPU replica start).')
@allowed([
  'Standard'
  'Premium'
])
param modelShareTier string = 'Standard'

@minValue(1)
@maxValue(5120)
@description('Size of the model share in GiB: a cap on a standard share, the provisioned (billed) size of a premium one (at least 100; a larger one reads faster).')
param modelShareGiB int = 100

// The CPU app's activities, on a 2 GiB replica, peaked at 649 MB (TreeShard) for 100,000 prompts with the built-in
// model (docs/deploy.md, "How many prompts a run holds").
@minValue(1)
@description('Most prompts one run may have.')
param maxPrompts int = 100000

@minValue(1)
@description('Largest prompt file a run may read, in bytes (checked from the blob\'s size before it is read).')
param maxPromptFileBytes int = 67108864

@minValue(0)
@description('Sibling tree-node segments whose whole subtrees need at most this many denoiser calls are packed into GPU activities of at most that many calls that run them in memory (0: one activity per segment batch). Larger values batch better and dispatch fewer activities (lower GPU cost); smaller ones spread a run over more GPU replicas (lower latency).')
param maxSubtreeCalls int = 10000

@description('Hosts that run callbacks may reach even when not public (comma-separated); empty for public hosts only.')
param callbackAllowList string = ''

@description('Image of the CPU app; azd sets it after its first deploy (SERVICE_FUNC_IMAGE_NAME).')
param funcImage string = ''

@description('Image of the GPU app; azd sets it after its first deploy (SERVICE_GPU_IMAGE_NAME).')
param gpuImage string = ''

@description('Principal id of the person running azd: given blob access to upload prompts and read images.')
param principalId string = ''

@secure()
@description('The CPU app\'s blobs_extension system key, for the Event Grid subscription. Left empty, infra/hooks/postdeploy.sh reads it after deploy and creates the subscription.')
param blobsExtensionKey string = ''

@secure()
@description('A function key of the CPU app, for the example Logic Apps workflow; empty to leave the workflow out (postdeploy.sh adds it).')
param logicAppFunctionKey string = ''

var tags = {
  'azd-env-name': environmentName
  application: 'hierdiff'
}
var token = toLower(uniqueString(subscription().id, environmentName, location))
var useScheduler = durableBackend == 'DurableTaskScheduler'
var taskHubName = 'hierdiff'
var useModelShare = !empty(modelFolder)
var modelMountPath = '/models'

// A public image that runs the Functions host, so the apps can be created before azd has pushed the real ones.
var placeholderImage = 'mcr.microsoft.com/azure-functions/dotnet8-quickstart-demo:1.0'

// Per-replica resources of the serverless GPU profiles (one GPU each).
var gpuReplicaResources = {
  'Consumption-GPU-NC8as-T4': {
    cpu: '8.0'
    memory: '56Gi'
  }
  'Consumption-GPU-NC24-A100': {
    cpu: '24.0'
    memory: '220Gi'
  }
}

// Function names (src/HierDiff.Functions/Functions, RunFunctions in HierDiff.Pipeline) by where they should run.
var ingressFunctions = [
  'StartFromBlob'
  'StartRun'
  'GetRun'
]
var orchestrationFunctions = [
  'RunOrchestrator'
  'SubtreeOrchestrator'
  'ShardOrchestrator'
  'PrepareRun'
  'ShardPrompts'
  'TreeShard'
  'PlanRun'
  'ConditionClusters'
  'ScheduleSegments'
  'FinishShard'
  'FinishRun'
  'FailRun'
  'PostCallback'
  'RecordCallback'
]
var gpuFunctions = [
  'EncodePrompts'
  'RunSegments'
]
var funcDisabled = useScheduler ? gpuFunctions : concat(orchestrationFunctions, gpuFunctions)
var gpuDisabled = useScheduler ? concat(ingressFunctions, orchestrationFunctions) : ingressFunctions

resource resourceGroup 'Microsoft.Resources/resourceGroups@2024-11-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: resourceGroup
  params: {
    location: location
    name: 'id-hierdiff-${token}'
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: resourceGroup
  params: {
    location: location
    logAnalyticsName: 'log-hierdiff-${token}'
    applicationInsightsName: 'appi-hierdiff-${token}'
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  scope: resourceGroup
  params: {
    location: location
    name: 'sthierdiff${take(token, 14)}'
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    tags: tags
  }
}

module registry 'modules/registry.bicep' = {
  scope: resourceGroup
  params: {
    location: location
    name: 'crhierdiff${token}'
    appPrincipalId: identity.outputs.principalId
    tags: tags
  }
}

module environment 'modules/environment.bicep' = {
  scope: resourceGroup
  params: {
    location: location
    name: 'cae-hierdiff-${token}'
    gpuProfileType: gpuProfileType
    logAnalyticsName: monitoring.outputs.logAnalyticsName
    tags: tags
  }
}

module models 'modules/models.bicep' = if (useModelShare) {
  scope: resourceGroup
  params: {
    location: location
    name: 'stmodels${token}'
    environmentName: environment.outputs.name
    tier: modelShareTier
    shareGiB: modelShareGiB
    userPrincipalId: principalId
    tags: tags
  }
}

module scheduler 'modules/scheduler.bicep' = if (useScheduler) {
  scope: resourceGroup
  params: {
    location: location
    name: 'dts-hierdiff-${token}'
    taskHubName: taskHubName
    appPrincipalId: identity.outputs.principalId
    tags: tags
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  scope: resourceGroup
  name: 'appi-hierdiff-${token}'
  dependsOn: [
    monitoring
  ]
}

// Identity-based connections only: AzureWebJobsStorage (the host, Durable's Azure Storage backend) and
// HierDiffStorage (the app's blobs; blob and queue URIs for the host's blob trigger, serviceUri for the worker).
var storageSettings = [
  { name: 'AzureWebJobsStorage__accountName', value: storage.outputs.name }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identity.outputs.clientId }
  { name: 'HierDiffStorage__serviceUri', value: storage.outputs.blobEndpoint }
  { name: 'HierDiffStorage__blobServiceUri', value: storage.outputs.blobEndpoint }
  { name: 'HierDiffStorage__queueServiceUri', value: 'https://${storage.outputs.name}.queue.${az.environment().suffixes.storage}/' }
  { name: 'HierDiffStorage__credential', value: 'managedidentity' }
  { name: 'HierDiffStorage__clientId', value: identity.outputs.clientId }
  // DefaultAzureCredential in the worker picks the user-assigned identity by this.
  { name: 'AZURE_CLIENT_ID', value: identity.outputs.clientId }
]

var schedulerSettings = useScheduler
  ? [
      {
        name: 'AzureFunctionsJobHost__extensions__durableTask__storageProvider__type'
        value: 'azureManaged'
      }
      {
        name: 'AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName'
        value: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
      }
      { name: 'AzureFunctionsJobHost__extensions__durableTask__hubName', value: taskHubName }
      // Not a secret: an endpoint and which identity signs in.
      {
        name: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
        value: 'Endpoint=${scheduler!.outputs.endpoint};Authentication=ManagedIdentity;ClientID=${identity.outputs.clientId}'
      }
    ]
  : []

// The model share's environment storage (an empty name: no mount), mounted on both apps: PrepareRun encodes the
// prompts on the CPU app and RunSegments refuses a plan made with another model.
var modelStorageName = useModelShare ? models!.outputs.storageName : ''

var appSettings = concat(storageSettings, schedulerSettings, [
  { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'dotnet-isolated' }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsights.properties.ConnectionString }
  { name: 'HierDiff__ModelPath', value: useModelShare ? '${modelMountPath}/${modelFolder}' : modelPath }
  { name: 'HierDiff__MaxPrompts', value: string(maxPrompts) }
  { name: 'HierDiff__MaxPromptFileBytes', value: string(maxPromptFileBytes) }
  { name: 'HierDiff__PricePerGpuSecond', value: pricePerGpuSecond }
  { name: 'HierDiff__MaxSubtreeCalls', value: string(maxSubtreeCalls) }
  { name: 'HierDiff__CallbackAllowList', value: callbackAllowList }
])

module funcApp 'modules/functionapp.bicep' = {
  scope: resourceGroup
  params: {
    location: location
    name: 'func-hierdiff-${token}'
    serviceName: 'func'
    environmentId: environment.outputs.id
    workloadProfileName: environment.outputs.consumptionProfileName
    image: empty(funcImage) ? placeholderImage : funcImage
    registryLoginServer: registry.outputs.loginServer
    identityId: identity.outputs.id
    cpu: '1.0'
    memory: '2Gi'
    // The HTTP API and Event Grid's webhook come from outside.
    externalIngress: true
    // Scales from zero on HTTP and Event Grid deliveries (and on Durable Task Scheduler work).
    minReplicas: 0
    maxReplicas: maxCpuReplicas
    settings: concat(appSettings, [{ name: 'HierDiff__Device', value: 'cpu' }], map(funcDisabled, f => {
      name: 'AzureWebJobs.${f}.Disabled'
      value: 'true'
    }))
    modelStorageName: modelStorageName
    modelMountPath: modelMountPath
    tags: tags
  }
}

module gpuApp 'modules/functionapp.bicep' = {
  scope: resourceGroup
  params: {
    location: location
    name: 'gpu-hierdiff-${token}'
    serviceName: 'gpu'
    environmentId: environment.outputs.id
    workloadProfileName: environment.outputs.gpuProfileName
    image: empty(gpuImage) ? placeholderImage : gpuImage
    registryLoginServer: registry.outputs.loginServer
    identityId: identity.outputs.id
    cpu: gpuReplicaResources[gpuProfileType].cpu
    memory: gpuReplicaResources[gpuProfileType].memory
    // Every HTTP function is disabled here and work arrives through the Durable backend: nothing outside needs in.
    externalIngress: false
    // Zero with the scheduler: replicas start for RunSegments work and stop after it. With Azure Storage one
    // replica must stay up to poll the queues: that replica's GPU is billed around the clock.
    minReplicas: useScheduler ? 0 : 1
    maxReplicas: maxGpuReplicas
    settings: concat(appSettings, [{ name: 'HierDiff__Device', value: 'cuda' }], map(gpuDisabled, f => {
      name: 'AzureWebJobs.${f}.Disabled'
      value: 'true'
    }))
    modelStorageName: modelStorageName
    modelMountPath: modelMountPath
    tags: tags
  }
}

module eventGrid 'modules/eventgrid.bicep' = {
  scope: resourceGroup
  params: {
    location: location
    name: 'evgt-hierdiff-${token}'
    storageAccountName: storage.outputs.name
    functionAppFqdn: funcApp.outputs.fqdn
    blobsExtensionKey: blobsExtensionKey
    tags: tags
  }
}

module logicApp 'modules/logicapp.bicep' = if (!empty(logicAppFunctionKey)) {
  scope: resourceGroup
  params: {
    location: location
    name: 'logic-hierdiff-${token}'
    functionAppFqdn: funcApp.outputs.fqdn
    functionKey: logicAppFunctionKey
    tags: tags
  }
}

// azd stores these in the environment (.azure/<env>/.env); postdeploy.sh and docs/deploy.md use them. Names and
// endpoints only: no keys, no connection strings.
output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = resourceGroup.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_APPS_ENVIRONMENT_NAME string = environment.outputs.name
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output FUNC_APP_NAME string = funcApp.outputs.name
output FUNC_APP_URL string = 'https://${funcApp.outputs.fqdn}'
output GPU_APP_NAME string = gpuApp.outputs.name
output EVENT_GRID_TOPIC_NAME string = eventGrid.outputs.systemTopicName
output LOGIC_APP_NAME string = 'logic-hierdiff-${token}'
output DURABLE_BACKEND string = durableBackend
output GPU_PROFILE_TYPE string = gpuProfileType
output PRICE_PER_GPU_SECOND string = pricePerGpuSecond
// Where to upload a model (docs/deploy.md); empty without a model share.
output MODEL_STORAGE_ACCOUNT_NAME string = useModelShare ? models!.outputs.accountName : ''
output MODEL_SHARE_NAME string = useModelShare ? models!.outputs.shareName : ''
