using HierDiff.Core.Clustering;

namespace HierDiff.Pipeline.Activities;

/// <summary>A shard's tree as TreeShard stores it for PlanRun, bit for bit: its prompts, its linkage rows and its
/// moments (little-endian; doubles as their bits, so the join sees exactly what the shard built).</summary>
internal static class ShardTreeBlob
{
    public static byte[] ToBytes(ShardTree shard)
    {
        using var bytes = new MemoryStream();
        using (var writer = new BinaryWriter(bytes))
        {
            writer.Write(shard.Members.Length);
            foreach (int member in shard.Members)
            {
                writer.Write(member);
            }

            foreach (LinkageRow row in shard.Tree.Rows)
            {
                writer.Write(row.Left);
                writer.Write(row.Right);
                writer.Write(row.Height);
                writer.Write(row.Count);
            }

            ClusterMoments moments = shard.Moments;
            writer.Write(moments.Count);
            writer.Write(moments.Dimensions);
            foreach (double v in moments.Sum)
            {
                writer.Write(v);
            }

            foreach (double v in moments.Outer)
            {
                writer.Write(v);
            }
        }

        return bytes.ToArray();
    }

    public static ShardTree FromBytes(byte[] data)
    {
        using var reader = new BinaryReader(new MemoryStream(data));
        var members = new int[reader.ReadInt32()];
        for (int i = 0; i < members.Length; i++)
        {
            members[i] = reader.ReadInt32();
        }

        var rows = new LinkageRow[members.Length - 1];
        for (int r = 0; r < rows.Length; r++)
        {
            rows[r] = new LinkageRow(reader.ReadInt32(), reader.ReadInt32(), reader.ReadDouble(), reader.ReadInt32());
        }

        long count = reader.ReadInt64();
        int d = reader.ReadInt32();
        var sum = new double[d];
        for (int i = 0; i < d; i++)
        {
            sum[i] = reader.ReadDouble();
        }

        var outer = new double[d * d];
        for (int i = 0; i < outer.Length; i++)
        {
            outer[i] = reader.ReadDouble();
        }

        return new ShardTree(members, new Linkage(members.Length, rows), ClusterMoments.Of(count, sum, outer));
    }
}
