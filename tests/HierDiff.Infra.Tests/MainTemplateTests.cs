using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace HierDiff.Infra.Tests;

/// <summary>What the compiled ARM JSON of infra/main.bicep (with its modules inlined) must say.</summary>
public sealed partial class MainTemplateTests
{
    private static readonly string[] GpuProfiles = ["Consumption-GPU-NC8as-T4", "Consumption-GPU-NC24-A100"];

    private static JsonObject Main => Bicep.Build("main.bicep");

    [Fact]
    public void EnvironmentHasAConsumptionAndAGpuWorkloadProfile()
    {
        Arm.Resource environment = Assert.Single(Arm.Resources(Main, "Microsoft.App/managedEnvironments"));
        JsonArray profiles = environment.Properties["workloadProfiles"]!.AsArray();
        Assert.Contains(profiles, p => (string?)p!["workloadProfileType"] == "Consumption");
        Assert.Equal("Consumption", (string?)environment.Template["variables"]!["consumptionProfileName"]);
        Assert.Contains(profiles, p => (string?)p!["workloadProfileType"] == "[parameters('gpuProfileType')]");

        // The GPU profile is a parameter of main (and of the module) limited to the two serverless GPU types.
        foreach (JsonObject template in new[] { Main, environment.Template })
        {
            JsonObject parameter = template["parameters"]!["gpuProfileType"]!.AsObject();
            Assert.Equal(GpuProfiles, parameter["allowedValues"]!.AsArray().Select(v => (string)v!));
        }

        Assert.Equal("Consumption-GPU-NC8as-T4", (string?)Main["parameters"]!["gpuProfileType"]!["defaultValue"]);
    }

    [Fact]
    public void BothAppsAreFunctionAppsWithTheUserAssignedIdentity()
    {
        Arm.Resource[] apps = [.. Arm.Resources(Main, "Microsoft.App/containerApps")];
        Assert.NotEmpty(apps);
        foreach (Arm.Resource app in apps)
        {
            Assert.Equal("functionapp", (string?)app.Json["kind"]);
            Assert.Equal("UserAssigned", (string?)app.Json["identity"]!["type"]);
            // Images are pulled with the identity, not a registry password.
            JsonObject registry = app.Properties["configuration"]!["registries"]![0]!.AsObject();
            Assert.Equal("[parameters('identityId')]", (string?)registry["identity"]);
            Assert.Null(registry["passwordSecretRef"]);
            Assert.Null(app.Properties["configuration"]!["secrets"]);
        }

        // Two deployments of the app module: func on the Consumption profile, gpu on the GPU profile.
        JsonObject[] modules = [.. Arm.ModulesDeclaring(Main, "Microsoft.App/containerApps")];
        Assert.Equal(["func", "gpu"], modules.Select(m => (string)Arm.ModuleParameter(m, "serviceName")!).Order());
        Assert.Contains("consumptionProfileName", (string)Arm.ModuleParameter(App("func"), "workloadProfileName")!);
        Assert.Contains("gpuProfileName", (string)Arm.ModuleParameter(App("gpu"), "workloadProfileName")!);
    }

    [Fact]
    public void GpuAppScalesFromZeroWithTheSchedulerAndOnlyMaxReplicasAtMost()
    {
        // The deployment's parameters are an expression choosing min replicas by backend: 0 with the scheduler.
        string parameters = Arm.Text(App("gpu")["properties"]!["parameters"]!);
        Assert.Contains("if(variables('useScheduler'), createObject('value', 0), createObject('value', 1))", parameters);
        Assert.Contains("parameters('maxGpuReplicas')", parameters);
        Assert.Equal("DurableTaskScheduler", (string?)Main["parameters"]!["durableBackend"]!["defaultValue"]);
        Assert.Equal(0, (int)Arm.ModuleParameter(App("func"), "minReplicas")!);

        // Price per GPU-second and max replicas are parameters; the price has no default, so azd asks for it.
        Assert.NotNull(Main["parameters"]!["maxGpuReplicas"]);
        Assert.Null(Main["parameters"]!["pricePerGpuSecond"]!["defaultValue"]);
        Assert.Equal("parameters('pricePerGpuSecond')", Setting(App("gpu"), "HierDiff__PricePerGpuSecond"));

        // The prompt file size limit reaches both apps (PrepareRun may run on either).
        Assert.Equal(67108864, (int)Main["parameters"]!["maxPromptFileBytes"]!["defaultValue"]!);
        Assert.Equal("string(parameters('maxPromptFileBytes'))", Setting(App("func"), "HierDiff__MaxPromptFileBytes"));
        Assert.Equal("string(parameters('maxPromptFileBytes'))", Setting(App("gpu"), "HierDiff__MaxPromptFileBytes"));
    }

    [Fact]
    public void ModelWorkRunsOnTheGpuAppAndNowhereElse()
    {
        Assert.Equal("'cuda'", Setting(App("gpu"), "HierDiff__Device"));
        Assert.Equal("'cpu'", Setting(App("func"), "HierDiff__Device"));
        JsonObject variables = Main["variables"]!.AsObject();
        Assert.Equal(["EncodePrompts", "RunSegments"], variables["gpuFunctions"]!.AsArray().Select(v => (string)v!));
        Assert.Contains("variables('gpuFunctions')", (string?)variables["funcDisabled"]);
    }

    [Fact]
    public void OnlyTheCpuAppTakesTrafficFromOutsideTheEnvironment()
    {
        // The app module's ingress follows its parameter; the GPU app, whose HTTP functions are all disabled, is
        // internal, the CPU app (HTTP API, Event Grid webhook) external.
        Arm.Resource app = Arm.Resources(Main, "Microsoft.App/containerApps").First();
        Assert.Equal("[parameters('externalIngress')]", (string?)app.Properties["configuration"]!["ingress"]!["external"]);
        Assert.False((bool)Arm.ModuleParameter(App("gpu"), "externalIngress")!);
        Assert.True((bool)Arm.ModuleParameter(App("func"), "externalIngress")!);
    }

    [Fact]
    public void EveryFunctionOfTheAppHasAPlace()
    {
        // A function added to the app must be placed on an app in main.bicep, or it would run on both.
        JsonObject variables = Main["variables"]!.AsObject();
        HashSet<string> placed = [.. new[] { "ingressFunctions", "orchestrationFunctions", "gpuFunctions" }
            .SelectMany(v => variables[v]!.AsArray().Select(n => (string)n!))];
        string[] functions = [.. AppFunctionNames()];
        Assert.Contains("StartFromBlob", functions);
        Assert.Contains("RunSegments", functions);
        Assert.All(functions, f => Assert.Contains(f, placed));
    }

    [Fact]
    public void StorageIsIdentityBasedWithTheDataRolesDurableNeeds()
    {
        Arm.Resource account = DataAccount;
        Assert.False((bool)account.Properties["allowSharedKeyAccess"]!);
        Assert.False((bool)account.Properties["allowBlobPublicAccess"]!);

        Arm.Resource containers = Assert.Single(Arm.Resources(Main, "Microsoft.Storage/storageAccounts/blobServices/containers"));
        Assert.Equal(["prompts", "images", "runs", "tunes"], account.Template["variables"]!["containerNames"]!.AsArray().Select(v => (string)v!));
        Assert.Contains("containerNames", Arm.Text(containers.Json["copy"]!));

        // Blob Data Owner, Queue Data Contributor, Table Data Contributor for the apps' identity.
        string roles = Arm.Text(account.Template["variables"]!["appRoles"]!) + Arm.Text(account.Template["variables"]!["roles"]!);
        foreach (string role in new[] { "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "974c5e8b-45b9-4653-ba55-5f855dd0fb88", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3" })
        {
            Assert.Contains(role, roles);
        }

        foreach (string app in new[] { "func", "gpu" })
        {
            Assert.Equal("'managedidentity'", Setting(App(app), "AzureWebJobsStorage__credential"));
            Assert.Contains("outputs.name.value", Setting(App(app), "AzureWebJobsStorage__accountName"));
            Assert.Contains("outputs.clientId.value", Setting(App(app), "AzureWebJobsStorage__clientId"));
            Assert.Contains("outputs.clientId.value", Setting(App(app), "AZURE_CLIENT_ID"));
            Assert.Contains("outputs.blobEndpoint.value", Setting(App(app), "HierDiffStorage__serviceUri"));
            Assert.Equal("'dotnet-isolated'", Setting(App(app), "FUNCTIONS_WORKER_RUNTIME"));
            // No connection-string forms of the two storage connections.
            Assert.Null(Setting(App(app), "AzureWebJobsStorage"));
            Assert.Null(Setting(App(app), "HierDiffStorage"));
        }
    }

    [Fact]
    public void OnlyTheModelShareMountReadsAnAccountKey()
    {
        // Container Apps mounts SMB shares with the account key only: models.bicep reads it with listKeys() straight
        // into the environment storage's accountKey. No other template reads a key or a secret, and no key travels
        // through a module parameter, an app setting or an output (NoOutputCarriesASecret).
        foreach (string template in Bicep.TemplateFiles())
        {
            JsonObject root = Bicep.Build(template);
            string json = Arm.Text(root);
            int reads = ListSecrets().Matches(json).Count;
            string[] mountKeys = [.. Arm.Resources(root, "Microsoft.App/managedEnvironments/storages")
                .Select(r => (string?)r.Properties["azureFile"]?["accountKey"] ?? "")];
            Assert.Equal(reads, mountKeys.Sum(k => ListSecrets().Matches(k).Count));
            Assert.All(mountKeys, k => Assert.Matches(@"^\[listKeys\(resourceId\('Microsoft\.Storage/storageAccounts', parameters\('name'\)\), '[0-9-]+'\)\.keys\[0\]\.value\]$", k));
            Assert.DoesNotContain("AccountKey=", json);
            Assert.DoesNotContain("sharedKey", json);
        }

        Assert.Contains("listKeys(", Arm.Text(Bicep.Build("modules/models.bicep")));
        foreach (string app in new[] { "func", "gpu" })
        {
            Assert.DoesNotMatch("(?i)listKeys|accountKey", Arm.Text(App(app)["properties"]!["parameters"]!));
        }

        Assert.DoesNotMatch("(?i)listKeys|accountKey", Arm.Text(ModelsModule["properties"]!["parameters"]!));
    }

    [Fact]
    public void BothAppsMountTheModelShareReadOnlyWhereModelPathPoints()
    {
        // The environment storage: the models share of the models account, read-only for every replica.
        Arm.Resource storage = Assert.Single(Arm.Resources(Main, "Microsoft.App/managedEnvironments/storages"));
        JsonObject azureFile = storage.Properties["azureFile"]!.AsObject();
        Assert.Equal("ReadOnly", (string?)azureFile["accessMode"]);
        Assert.Equal("[parameters('name')]", (string?)azureFile["accountName"]);
        Assert.Equal("[variables('shareName')]", (string?)azureFile["shareName"]);
        Assert.Equal("models", (string?)storage.Template["variables"]!["shareName"]);
        Assert.Null(storage.Properties["nfsAzureFile"]);
        Arm.Resource share = Assert.Single(Arm.Resources(Main, "Microsoft.Storage/storageAccounts/fileServices/shares"));
        Assert.Equal("SMB", (string?)share.Properties["enabledProtocols"]);

        // The app module mounts that storage as an Azure Files volume at modelMountPath, when it is given one.
        Arm.Resource appResource = Arm.Resources(Main, "Microsoft.App/containerApps").First();
        JsonObject variables = appResource.Template["variables"]!.AsObject();
        Assert.Equal(
            "[if(empty(parameters('modelStorageName')), createArray(), createArray(createObject('name', 'models', 'storageType', 'AzureFile', 'storageName', parameters('modelStorageName'))))]",
            (string?)variables["modelVolumes"]);
        Assert.Equal(
            "[if(empty(parameters('modelStorageName')), createArray(), createArray(createObject('volumeName', 'models', 'mountPath', parameters('modelMountPath'))))]",
            (string?)variables["modelVolumeMounts"]);
        JsonObject template = appResource.Properties["template"]!.AsObject();
        Assert.Equal("[variables('modelVolumes')]", (string?)template["volumes"]);
        Assert.Equal("[variables('modelVolumeMounts')]", (string?)template["containers"]![0]!["volumeMounts"]);

        // Both apps get the share (the CPU app encodes the prompts RunSegments continues, with the same model) at
        // /models, and HierDiff__ModelPath is the model folder inside that mount.
        Assert.Equal("/models", (string?)Main["variables"]!["modelMountPath"]);
        foreach (string app in new[] { "func", "gpu" })
        {
            Assert.Equal("[variables('modelMountPath')]", (string?)Arm.ModuleParameter(App(app), "modelMountPath"));
            Assert.Equal(
                "[if(variables('useModelShare'), createObject('value', reference('models').outputs.storageName.value), createObject('value', ''))]",
                (string?)App(app)["properties"]!["parameters"]!["modelStorageName"]);
            Assert.Equal(
                "if(variables('useModelShare'), format('{0}/{1}', variables('modelMountPath'), parameters('modelFolder')), parameters('modelPath'))",
                Setting(App(app), "HierDiff__ModelPath"));
        }

        // The storage belongs to the apps' environment.
        Assert.Equal("[reference('environment').outputs.name.value]", (string?)Arm.ModuleParameter(ModelsModule, "environmentName"));
    }

    [Fact]
    public void WithoutAModelFolderThereIsNoShareAndTheBuiltInModelStays()
    {
        // modelFolder empty (the default): the models module is skipped, the apps get no volume, and ModelPath is
        // modelPath, whose empty default the app reads as its built-in model.
        JsonObject parameters = Main["parameters"]!.AsObject();
        Assert.Equal("", (string?)parameters["modelFolder"]!["defaultValue"]);
        Assert.Equal("", (string?)parameters["modelPath"]!["defaultValue"]);
        Assert.Equal("[not(empty(parameters('modelFolder')))]", (string?)Main["variables"]!["useModelShare"]);
        Assert.Equal("[variables('useModelShare')]", (string?)ModelsModule["condition"]);
        Assert.Equal("", (string?)Bicep.Build("modules/functionapp.bicep")["parameters"]!["modelStorageName"]!["defaultValue"]);
        Assert.Equal("Standard", (string?)parameters["modelShareTier"]!["defaultValue"]);

        // azd passes the folder and the tier from its environment.
        string azdParameters = File.ReadAllText(Path.Combine(Bicep.InfraDirectory, "main.parameters.json"));
        Assert.Contains("${HIERDIFF_MODEL_FOLDER=}", azdParameters);
        Assert.Contains("${HIERDIFF_MODEL_SHARE_TIER=Standard}", azdParameters);
    }

    [Fact]
    public void ModelAccountAllowsKeysOnlyForTheMountAndUploadsSignInWithEntraId()
    {
        // The share has its own account, so the data account keeps shared keys off; this one holds model weights only.
        Arm.Resource account = ModelAccount;
        Assert.True((bool)account.Properties["allowSharedKeyAccess"]!);
        Assert.True((bool)account.Properties["defaultToOAuthAuthentication"]!);
        Assert.False((bool)account.Properties["allowBlobPublicAccess"]!);
        Assert.True((bool)account.Properties["supportsHttpsTrafficOnly"]!);
        Assert.Equal("TLS1_2", (string?)account.Properties["minimumTlsVersion"]);
        Assert.NotSame(DataAccount.Template, account.Template);
        Assert.DoesNotContain(Arm.Resources(Main, "Microsoft.Storage/storageAccounts/blobServices/containers"), c => c.Template == account.Template);

        // Uploads: Storage File Data Privileged Contributor for the person running azd (az storage file --auth-mode login).
        Assert.Contains("69566ab7-960f-475b-8e7c-b3118f30c6bd", Arm.Text(account.Template["variables"]!));
        Assert.Contains("parameters('principalId')", Arm.Text(ModelsModule["properties"]!["parameters"]!["userPrincipalId"]!));

        // Premium is a FileStorage account whose share is provisioned at least 100 GiB.
        Assert.Equal("[if(variables('premium'), 'FileStorage', 'StorageV2')]", (string?)account.Json["kind"]);
        Arm.Resource share = Assert.Single(Arm.Resources(Main, "Microsoft.Storage/storageAccounts/fileServices/shares"));
        Assert.Equal("[if(variables('premium'), max(parameters('shareGiB'), 100), parameters('shareGiB'))]", (string?)share.Properties["shareQuota"]);

        // Outputs name the account and share for uploads; nothing else.
        Assert.Contains("outputs.accountName.value", Arm.Text(Main["outputs"]!["MODEL_STORAGE_ACCOUNT_NAME"]!));
        Assert.Contains("outputs.shareName.value", Arm.Text(Main["outputs"]!["MODEL_SHARE_NAME"]!));
    }

    [Fact]
    public void NoOutputCarriesASecret()
    {
        foreach (JsonObject template in Bicep.TemplateFiles().SelectMany(t => Arm.Templates(Bicep.Build(t))))
        {
            if (template["outputs"] is not JsonObject outputs)
            {
                continue;
            }

            foreach ((string name, JsonNode? output) in outputs)
            {
                string type = (string)output!["type"]!;
                string value = output["value"] is JsonNode v ? Arm.Text(v) : "";
                Assert.DoesNotContain("secure", type, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotMatch("(?i)key|secret|password|connectionstring|webhookUrl", name + " " + value);
            }
        }
    }

    [Fact]
    public void EventGridSendsBlobCreatedUnderPromptsToTheBlobWebhook()
    {
        Arm.Resource topic = Assert.Single(Arm.Resources(Main, "Microsoft.EventGrid/systemTopics"));
        Assert.Equal("Microsoft.Storage.StorageAccounts", (string?)topic.Properties["topicType"]);

        // Inlined in main (conditional on the key) and compiled on its own for postdeploy.sh: the same filter.
        Arm.Resource inMain = Assert.Single(Arm.Resources(Main, "Microsoft.EventGrid/systemTopics/eventSubscriptions"));
        Arm.Resource alone = Assert.Single(Arm.Resources(Bicep.Build("modules/eventgrid-subscription.bicep"), "Microsoft.EventGrid/systemTopics/eventSubscriptions"));
        foreach (Arm.Resource subscription in new[] { inMain, alone })
        {
            JsonObject filter = subscription.Properties["filter"]!.AsObject();
            Assert.Equal(["Microsoft.Storage.BlobCreated"], filter["includedEventTypes"]!.AsArray().Select(v => (string)v!));
            Assert.Equal("[format('/blobServices/default/containers/{0}/blobs/', parameters('promptsContainer'))]", (string?)filter["subjectBeginsWith"]);
            Assert.Equal("prompts", (string?)subscription.Template["parameters"]!["promptsContainer"]!["defaultValue"]);
            Assert.Equal("WebHook", (string?)subscription.Properties["destination"]!["endpointType"]);
            Assert.Equal("[parameters('webhookUrl')]", (string?)subscription.Properties["destination"]!["properties"]!["endpointUrl"]);
            Assert.Equal("securestring", (string?)subscription.Template["parameters"]!["webhookUrl"]!["type"], ignoreCase: true);
        }

        // The webhook is the blob extension's, for StartFromBlob, on the CPU app.
        JsonObject eventGridModule = Assert.Single(Arm.ModulesDeclaring(Main, "Microsoft.EventGrid/systemTopics"));
        string webhook = Arm.Text(eventGridModule["properties"]!["template"]!);
        Assert.Contains("/runtime/webhooks/blobs?functionName=Host.Functions.StartFromBlob&code=", webhook);
        Assert.Contains("func", (string)Arm.ModuleParameter(eventGridModule, "functionAppFqdn")!);
    }

    [Fact]
    public void SchedulerTopologyIsConditionalAndGrantsTheDataRole()
    {
        Arm.Resource scheduler = Assert.Single(Arm.Resources(Main, "Microsoft.DurableTask/schedulers"));
        Assert.Contains("0ad04412-c4d5-4796-b79c-f76d14c8d402", Arm.Text(scheduler.Template));
        JsonObject module = Assert.Single(Arm.ModulesDeclaring(Main, "Microsoft.DurableTask/schedulers"));
        Assert.Equal("[variables('useScheduler')]", (string?)module["condition"]);
        Assert.Contains("'Authentication=ManagedIdentity", Settings(App("gpu")).Replace(";", "'", StringComparison.Ordinal));
    }

    [Fact]
    public void LogicAppWorkflowPostsPollsAndActsOnTheManifest()
    {
        Arm.Resource workflow = Assert.Single(Arm.Resources(Bicep.Build("modules/logicapp.bicep"), "Microsoft.Logic/workflows"));
        JsonObject actions = workflow.Properties["definition"]!["actions"]!.AsObject();
        Assert.Equal("POST", (string?)actions["Start_run"]!["inputs"]!["method"]);
        Assert.Equal("Until", (string?)actions["Wait_for_run"]!["type"]);
        Assert.Contains("202", (string?)actions["Wait_for_run"]!["expression"]);
        Assert.Contains("cost", Arm.Text(actions["Succeeded"]!));
        Assert.Equal("SecureString", (string?)workflow.Properties["definition"]!["parameters"]!["functionKey"]!["type"]);
    }

    [Fact]
    public void ObservabilityAndRegistryAreProvisioned()
    {
        Assert.Single(Arm.Resources(Main, "Microsoft.OperationalInsights/workspaces"));
        Assert.Single(Arm.Resources(Main, "Microsoft.Insights/components"));
        Arm.Resource registry = Assert.Single(Arm.Resources(Main, "Microsoft.ContainerRegistry/registries"));
        Assert.False((bool)registry.Properties["adminUserEnabled"]!);
        Assert.Contains("ConnectionString", Setting(App("func"), "APPLICATIONINSIGHTS_CONNECTION_STRING"));
    }

    /// <summary>The app's data account (prompts, images, runs, host state).</summary>
    private static Arm.Resource DataAccount =>
        Arm.Resources(Main, "Microsoft.Storage/storageAccounts").Single(r => r.Template["variables"]?["containerNames"] is not null);

    /// <summary>The model share's account.</summary>
    private static Arm.Resource ModelAccount =>
        Arm.Resources(Main, "Microsoft.Storage/storageAccounts").Single(r => r.Template["variables"]?["shareName"] is not null);

    private static JsonObject ModelsModule => Assert.Single(Arm.ModulesDeclaring(Main, "Microsoft.App/managedEnvironments/storages"));

    /// <summary>The deployment of the function-app module for an azd service (func or gpu).</summary>
    private static JsonObject App(string service) =>
        Arm.ModulesDeclaring(Main, "Microsoft.App/containerApps").Single(m => (string?)Arm.ModuleParameter(m, "serviceName") == service);

    private static string Settings(JsonObject app) => (string)Arm.ModuleParameter(app, "settings")!;

    /// <summary>The ARM expression an app setting is given (e.g. 'cuda'), or null when the app has no such setting.</summary>
    private static string? Setting(JsonObject app, string name)
    {
        string settings = Settings(app);
        string prefix = $"createObject('name', '{name}', 'value', ";
        int start = settings.IndexOf(prefix, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        // The value runs to the parenthesis that closes createObject( (quoted strings hold no parentheses here).
        start += prefix.Length;
        int depth = 0;
        for (int i = start; i < settings.Length; i++)
        {
            depth += settings[i] switch { '(' => 1, ')' => -1, _ => 0 };
            if (depth < 0)
            {
                return settings[start..i];
            }
        }

        throw new FormatException($"unbalanced settings expression after {name}");
    }

    /// <summary>Every [Function] name in the app's source, with constants resolved.</summary>
    private static IEnumerable<string> AppFunctionNames()
    {
        string src = Path.Combine(Bicep.RepositoryRoot, "src");
        string[] files = [.. Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))];
        Dictionary<string, string> constants = [];
        foreach (string file in files)
        {
            string text = File.ReadAllText(file);
            string? type = TypeName().Match(text).Groups[1].Value;
            foreach (Match c in Constant().Matches(text))
            {
                constants[c.Groups[1].Value] = c.Groups[2].Value;
                constants[$"{type}.{c.Groups[1].Value}"] = c.Groups[2].Value;
            }
        }

        foreach (string file in files.Where(f => f.Contains($"HierDiff.Functions{Path.DirectorySeparatorChar}Functions", StringComparison.Ordinal)))
        {
            foreach (Match f in FunctionAttribute().Matches(File.ReadAllText(file)))
            {
                string argument = f.Groups[1].Value.Trim();
                yield return argument.StartsWith("nameof(", StringComparison.Ordinal) ? argument[7..^1]
                    : argument.StartsWith('"') ? argument.Trim('"')
                    : constants[argument];
            }
        }
    }

    [GeneratedRegex(@"list(Keys|Secrets|AccountSas|ServiceSas|Credentials)\(")]
    private static partial Regex ListSecrets();

    [GeneratedRegex(@"\[Function\(([^)]*\)?)\)\]")]
    private static partial Regex FunctionAttribute();

    [GeneratedRegex(@"const string (\w+) = ""([^""]+)""")]
    private static partial Regex Constant();

    [GeneratedRegex(@"(?:class|record) (\w+)")]
    private static partial Regex TypeName();
}
